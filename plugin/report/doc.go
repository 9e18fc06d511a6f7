// Package report holds the usage reports of the admin console and of
// `latchkey report`: registrations by method, who is registered for
// recovery (and who is not), recoveries per day, the recovery funnel,
// locked accounts, "This wasn't me" reports and phone sends by country.
//
// Every report is one or two aggregate queries (GROUP BY in the database,
// never rows loaded to be counted) over the tables the provider and the
// plugin already keep: users, sspr_methods, sspr_user_state and
// audit_events. They run unchanged on SQLite and MySQL; the two places the
// dialects differ (a day of a timestamp, a field of the phone sends' JSON
// detail) are in dialect.go. Days are UTC days: every time is stored in UTC.
//
// The package renders nothing; plugin/report/chart draws the results.
package report
