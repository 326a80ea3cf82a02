package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/g2msync/g2msync/pkg/gotomeeting"
	"github.com/g2msync/g2msync/pkg/logkey"
	"github.com/g2msync/g2msync/pkg/plan"
	"github.com/g2msync/g2msync/pkg/state"
)

// applyCreates creates accounts in bulk: one call per batch of people who get
// the same licences and admin roles, as GoTo applies them per request. Each
// batch's intents are written before its call and its outcomes committed
// after, in one transaction each.
func (c *cycle) applyCreates(ctx context.Context, creates []*plan.Change, seats *seatLedger, done, total int) error {
	size := c.e.BatchSize
	if size <= 0 {
		size = 100
	}
	groups := map[string][]*plan.Change{}
	var keys []string
	for _, ch := range creates {
		k := strings.Join(listNew(ch.Licenses), ",") + "|" + strings.Join(listNew(ch.AdminRoles), ",")
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], ch)
	}
	slices.Sort(keys)
	outages := 0
	for _, k := range keys {
		group := groups[k]
		for start := 0; start < len(group); start += size {
			if err := c.stopRequested(ctx); err != nil {
				return err
			}
			batch := group[start:min(start+size, len(group))]
			err := c.createBatch(ctx, batch, seats)
			done += len(batch)
			c.progress(done, total)
			if c.commitErr != nil {
				return c.commitErr
			}
			if stop := c.stopAfter(err, &outages, total-done); stop != nil {
				return stop
			}
		}
	}
	return nil
}

func (c *cycle) createBatch(ctx context.Context, batch []*plan.Change, seats *seatLedger) error {
	c.tried += len(batch)
	lic, roles := listNew(batch[0].Licenses), listNew(batch[0].AdminRoles)
	// People beyond the free seats fail here, without a call.
	var send []*plan.Change
	for _, ch := range batch {
		if err := seats.reserve(nil, lic); err != nil {
			c.fail(ch, err, false)
			continue
		}
		send = append(send, ch)
	}
	if len(send) == 0 {
		return nil
	}
	intents := make([]state.Intent, len(send))
	req := gotomeeting.CreateRequest{LicenseKeys: nonNil(lic), AdminRoles: nonNil(roles), SuppressEmail: c.e.SuppressEmail}
	for i, ch := range send {
		intents[i] = state.Intent{EntraID: ch.EntraID, UPN: ch.UPN, Email: ch.Profile.Email, Kind: plan.KindCreate, CycleID: c.id,
			At: c.e.now(), Licenses: lic, AdminRoles: roles, Profile: ch.Profile}
		req.Users = append(req.Users, gotomeeting.NewUser{Email: ch.Profile.Email, FirstName: ch.Profile.FirstName,
			LastName: ch.Profile.LastName, Locale: ch.Profile.Locale, TimeZone: ch.Profile.TimeZone})
	}
	if err := c.e.Store.WriteIntents(intents); err != nil {
		c.commitErr = err
		return err
	}
	created, err := c.e.Writer.CreateUsers(ctx, req)
	if err != nil {
		// After a timeout or outage the call may have gone through: keep the
		// intents, so the next cycle finds the accounts instead of creating twice.
		ambiguous := errors.Is(err, gotomeeting.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
		for _, ch := range send {
			seats.release(nil, lic)
			c.fail(ch, err, ambiguous)
		}
		return err
	}
	keys := make(map[string]string, len(created))
	for _, cr := range created {
		keys[strings.ToLower(cr.Email)] = cr.Key
	}
	var outs []state.Outcome
	for _, ch := range send {
		key := keys[strings.ToLower(ch.Profile.Email)]
		switch owner := c.owned[key]; {
		case key == "":
			c.fail(ch, fmt.Errorf("GoTo did not return an account for %s", ch.Profile.Email), false)
		case owner != nil && owner.EntraID != ch.EntraID:
			c.fail(ch, fmt.Errorf("GoTo returned account %s for %s, which g2msync already links to entra id %s: %w",
				key, ch.Profile.Email, owner.EntraID, gotomeeting.ErrConflict), false)
		default:
			rec := ch.Result(key)
			c.owned[key] = &rec
			o := state.Outcome{EntraID: ch.EntraID, Record: &rec, ClearIntent: true, ClearFailure: true, Audit: c.audit(ch, state.ResultSuccess, "")}
			o.Audit.GoToKey = key
			outs = append(outs, o)
			c.res.Cycle.Applied[string(plan.KindCreate)]++
			c.log.Info("applied", append(c.attrs(ch), logkey.GoToKey, key)...)
		}
	}
	c.commit(outs...)
	return nil
}

// recoverIntents settles creates whose call was made but whose outcome was
// never committed (a crash, a kill, a timeout): an account GoTo holds with
// the intended email is recorded as created; otherwise the intent is dropped
// and the plan creates the person again.
func (c *cycle) recoverIntents(ctx context.Context) error {
	intents, err := c.e.Store.Intents()
	if err != nil || len(intents) == 0 {
		return err
	}
	records, err := c.e.Store.Records()
	if err != nil {
		return err
	}
	owned := map[string]bool{}
	for _, r := range records {
		owned[r.GoToKey] = true
	}
	// A whole batch of intents is cheaper to settle from one list of every
	// account (which an initial sync needs anyway) than by one lookup each.
	var byEmail map[string][]gotomeeting.User
	if c.opts.InitialSync || len(intents) > lookupLimit {
		all, err := c.listUsers(ctx)
		if err != nil {
			return fmt.Errorf("recover %d interrupted creates: %w", len(intents), err)
		}
		byEmail = make(map[string][]gotomeeting.User, len(all))
		for _, u := range all {
			k := strings.ToLower(u.Email)
			byEmail[k] = append(byEmail[k], u)
		}
	}
	for _, in := range intents {
		var users []gotomeeting.User
		if byEmail != nil {
			users = byEmail[strings.ToLower(in.Email)]
		} else if users, err = c.e.Reader.FindUsersByEmail(ctx, in.Email); err != nil {
			return fmt.Errorf("recover the interrupted create of %s: %w", in.Email, err)
		}
		o := state.Outcome{EntraID: in.EntraID, ClearIntent: true}
		if len(users) == 1 && !owned[users[0].Key] {
			u := users[0]
			rec := plan.Record{EntraID: in.EntraID, UPN: in.UPN, GoToKey: u.Key, State: plan.StateActive, Origin: plan.OriginCreated,
				Profile:  plan.Profile{Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, Locale: u.Locale, TimeZone: u.TimeZone},
				Licenses: u.Licenses, AdminRoles: u.AdminRoles}
			o.Record, o.ClearFailure = &rec, true
			o.Audit = state.AuditEntry{Time: c.e.now(), CycleID: c.id, EntraID: in.EntraID, UPN: in.UPN, GoToKey: u.Key, Email: u.Email,
				Action: string(plan.KindCreate), Result: state.ResultSuccess,
				Reason: "recovered: the create call of cycle " + in.CycleID + " went through before g2msync stopped"}
			owned[u.Key] = true
			c.log.Info("recovered interrupted create", logkey.EntraID, in.EntraID, logkey.GoToKey, u.Key, logkey.Email, u.Email)
		}
		if err := c.e.Store.Commit(o); err != nil {
			return err
		}
	}
	return nil
}
