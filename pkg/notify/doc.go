// Package notify tells an administrator by email when g2msync needs a person,
// and tells them again when it no longer does.
//
// A provisioning daemon runs unattended: when Entra ID or GoTo refuses its
// credentials, when cycles keep failing, when the job backs off, when
// disables are staged for approval or when accounts are quarantined, nobody
// sees it unless someone reads the logs. The daemon hands a [Tracker] one
// [Observation] per cycle; the tracker keeps one incident per condition and
// mails once when it opens and once when it clears, so a condition that lasts
// a week costs two mails, not one per cycle. [Mailer] sends those mails
// through an SMTP server with go-mail.
//
//	observation per cycle ──► Tracker ──(subject, body)──► send func ──► Mailer ──► SMTP
//
// The tracker sees only observations, never configuration, so a mail body
// cannot carry a secret; the SMTP password lives only inside the Mailer's
// go-mail client. The tracker takes a plain send function rather than a
// Mailer so the daemon can test it, or route mail elsewhere, without SMTP.
//
// notify imports neither the engine nor state: the daemon translates its
// results into an Observation. It must never import the Graph SDK.
package notify
