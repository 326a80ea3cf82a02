package state

import (
	"bytes"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CycleBatch is how many cycles EachCycleSince reads in one read
// transaction: a year of cycles every 20 minutes is 26,000, and a read
// transaction held over all of them would hold up a running cycle's commit
// that needs to grow the file (bbolt remaps it only when no reader holds
// the old mapping).
const CycleBatch = 500

// EachCycleSince calls fn with every cycle that started at or after since,
// oldest first, reading at most batch of them (CycleBatch when batch <= 0)
// in each read transaction, and none held between calls: the statistics
// read a month of history without holding it all in memory or the file
// for long. A cycle that cannot be decoded is left out and counted in
// damaged; the rest are read. fn's error stops the read and is returned.
func (s *Store) EachCycleSince(since time.Time, batch int, fn func(*Cycle) error) (damaged int, err error) {
	if batch <= 0 {
		batch = CycleBatch
	}
	var from []byte
	if since.After(time.Unix(0, 0)) {
		from = u64(uint64(since.UnixNano()))
	} else {
		from = u64(0)
	}
	var page []Cycle
	for {
		page = page[:0]
		var last []byte
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketCycles).Cursor()
			k, v := c.Seek(from)
			for n := 0; k != nil && n < batch; k, v = c.Next() {
				n++
				last = k
				var cy Cycle
				if json.Unmarshal(v, &cy) != nil {
					damaged++
					continue
				}
				page = append(page, cy)
			}
			if k == nil {
				last = nil // the end of the bucket: no further batch
			}
			return nil
		})
		if err != nil {
			return damaged, err
		}
		for i := range page {
			if err := fn(&page[i]); err != nil {
				return damaged, err
			}
		}
		if last == nil {
			return damaged, nil
		}
		// The next batch starts just after the last key read: the key
		// with one more byte, 0, sorts right after it.
		from = append(bytes.Clone(last), 0)
	}
}
