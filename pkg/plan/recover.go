package plan

import "fmt"

// Intent is a create, disable or delete whose call was sent but whose
// outcome was never recorded (a crash, a kill, a timeout before the
// commit), together with what the observe step found of its account. The
// plan decides whether it went through (Plan.Recovered) and settles every
// intent it is given (Plan.Settled), so that `plan` shows exactly what the
// next run records.
type Intent struct {
	Kind    Kind // KindCreate, KindDisable or KindDelete
	EntraID string
	UPN     string
	Email   string // the address the create sent, or the account's
	GoToKey string // the account a disable or delete acted on
	CycleID string // the cycle that sent the call
	// Licenses and AdminRoles are what the account held before a disable
	// or delete, to give back on a re-enable.
	Licenses   []string
	AdminRoles []string
	// Found, for a create, are the GoTo accounts with the intended address
	// (looked up by the observe step, compared by address rules).
	Found []Remote
	// Live, for a disable or delete of an account g2msync still records,
	// is the account as GoTo holds it now; nil when GoTo no longer has it.
	Live *Remote
}

// recoverIntents settles the interrupted changes against the owned records:
//
//	intent   what GoTo shows                              recorded as
//	create   exactly one account with the address (by     created (record from the account)
//	         address rules), owned
//	         by no one, and the person has no record
//	disable  the recorded account holds no licence and    disabled (with what it held before,
//	         no admin role                                for a re-enable)
//	delete   the recorded account no longer exists        forgotten
//	any      anything else                                nothing: the plan decides afresh
//
// It returns the records the plan starts from (a new slice when any
// changed) and the record-only changes, in intent order.
func recoverIntents(records []Record, intents []Intent) ([]Record, []Change) {
	if len(intents) == 0 {
		return records, nil
	}
	records = append([]Record(nil), records...)
	at := make(map[string]int, len(records))
	ownedKey := make(map[string]bool, len(records))
	for i, r := range records {
		at[r.EntraID] = i
		ownedKey[r.GoToKey] = true
	}
	var out []Change
	for _, in := range intents {
		why := fmt.Sprintf("recovered: the %s call of cycle %s went through before g2msync stopped; recorded without a new call", in.Kind, in.CycleID)
		switch in.Kind {
		case KindCreate:
			_, has := at[in.EntraID]
			// The account must carry the address the create sent, by the
			// address rules, whatever the lookup returned.
			if len(in.Found) != 1 || ownedKey[in.Found[0].Key] || has || fold(in.Found[0].Profile.Email) != fold(in.Email) {
				continue
			}
			u := in.Found[0]
			rec := Record{EntraID: in.EntraID, UPN: in.UPN, GoToKey: u.Key, State: StateActive, Origin: OriginCreated,
				Profile: u.Profile, Licenses: u.Licenses, AdminRoles: u.AdminRoles}
			records = append(records, rec)
			at[in.EntraID], ownedKey[u.Key] = len(records)-1, true
			out = append(out, Change{Kind: KindCreate, EntraID: in.EntraID, UPN: in.UPN, GoToKey: u.Key, Profile: u.Profile,
				Reason: why, Recovery: &Recovery{CycleID: in.CycleID, Record: &rec}})
		case KindDisable, KindDelete:
			i, ok := at[in.EntraID]
			if !ok || records[i].GoToKey != in.GoToKey {
				continue
			}
			prior := records[i]
			switch {
			case in.Kind == KindDelete && in.Live == nil:
				records = append(records[:i:i], records[i+1:]...)
				delete(at, in.EntraID)
				delete(ownedKey, in.GoToKey)
				for j := i; j < len(records); j++ {
					at[records[j].EntraID] = j
				}
				out = append(out, Change{Kind: KindDelete, EntraID: in.EntraID, UPN: in.UPN, GoToKey: in.GoToKey, Profile: prior.Profile,
					Reason: why, Prior: &prior, Recovery: &Recovery{CycleID: in.CycleID}})
			case in.Kind == KindDisable && in.Live != nil && len(in.Live.Licenses) == 0 && len(in.Live.AdminRoles) == 0:
				rec := prior
				rec.State, rec.Licenses, rec.AdminRoles = StateDisabled, nil, nil
				rec.RemovedLicenses, rec.RemovedAdminRoles = in.Licenses, in.AdminRoles
				records[i] = rec
				out = append(out, Change{Kind: KindDisable, EntraID: in.EntraID, UPN: in.UPN, GoToKey: in.GoToKey, Profile: prior.Profile,
					Reason: why, Prior: &prior, Recovery: &Recovery{CycleID: in.CycleID, Record: &rec}})
			}
		}
	}
	return records, out
}

// settled lists the Entra ids of the intents: every one is settled, gone
// through (a Recovered change) or not (the plan decides afresh).
func settled(intents []Intent) []string {
	if len(intents) == 0 {
		return nil
	}
	out := make([]string, len(intents))
	for i, in := range intents {
		out[i] = in.EntraID
	}
	return out
}
