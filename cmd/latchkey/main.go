// Command latchkey is the Latchkey binary: the OpenID Connect provider with
// self-service password reset (serve), and its administration commands.
//
// Every command reads its configuration from flags, LATCHKEY_* environment
// variables and an optional --config YAML file (see provider/config), prints
// clear errors and exits non-zero on failure. Secrets are read from stdin,
// never from argv, where other users of the machine could see them.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/provider/config"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the command ran and failed
	exitUsage  = 2 // bad command line or configuration
)

type cli struct {
	ConfigFile kong.ConfigFlag `name:"config" help:"YAML file with settings (same keys as the flags, or the LATCHKEY_* names)." placeholder:"FILE"`
	Flags      config.Flags    `embed:""`

	Serve   serveCmd   `cmd:"" help:"Run the identity provider (runs migrations first)."`
	Migrate migrateCmd `cmd:"" help:"Apply database migrations and exit."`
	User    userCmd    `cmd:"" help:"Manage users."`
	Client  clientCmd  `cmd:"" help:"Manage OpenID Connect clients (relying parties)."`
	Keys    keysCmd    `cmd:"" help:"List or rotate token signing keys."`
	Secret  secretCmd  `cmd:"" help:"Rotate LATCHKEY_SECRET: re-seal what is stored under a new secret."`
	Backup  backupCmd  `cmd:"" help:"Copy a SQLite database consistently while it is in use (MySQL: use mysqldump)."`
	Audit   auditCmd   `cmd:"" help:"Show security events from the audit log."`
	Report  reportCmd  `cmd:"" help:"Usage reports: registrations, coverage, recoveries, the recovery funnel, lockouts, fraud reports, phone sends (text, JSON or SVG)."`
	Method  methodCmd  `cmd:"" help:"Manage users' verification methods."`
	Policy  policyCmd  `cmd:"" help:"Show or change the recovery policy."`
	Phone   phoneCmd   `cmd:"" help:"Phone codes: show or reset the toll-fraud circuit breaker."`
	Bench   benchCmd   `cmd:"" help:"Measure token-endpoint requests/s and latency against a running server (loopback only)."`

	Healthcheck healthcheckCmd `cmd:"" help:"Exit 0 if the local server answers /readyz (or --path /healthz) with 200, else 1 (for container health checks)."`
	Version     versionCmd     `cmd:"" help:"Print the version."`

	Authenticator authenticatorCmd `cmd:"" help:"The Latchkey Authenticator: approve sign-in requests and show TOTP codes."` // H8
}

// usageError marks errors that are the operator's to fix (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

type exitPanic struct{ code int }

// maxSecretLine bounds a secret read from stdin: passwords are at most 128
// code points, hashes and client secrets a few hundred bytes.
const maxSecretLine = 4096

// listenHook, set only by tests, learns the address serve listens on (they
// listen on port 0).
var listenHook func(addr string)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it in-process with their own
// stdin, stdout and a temporary database.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	var c cli
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(exitPanic)
			if !ok {
				panic(r)
			}
			code = e.code
		}
	}()
	opts := append(config.Options(),
		kong.Name("latchkey"),
		kong.Description("Latchkey: an OpenID Connect provider with self-service password reset."),
		kong.Writers(stdout, stderr),
		kong.UsageOnError(),
		kong.Vars{"keys": strings.Join(policy.Keys, ", ")},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		// kong exits after --help; turn that into a return so tests survive it.
		kong.Exit(func(code int) { panic(exitPanic{code}) }),
	)
	parser, err := kong.New(&c, opts...)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return exitFailed
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "latchkey: %v\n", err)
		return exitUsage
	}
	a := &app{
		onListen: listenHook,
		ctx:      ctx,
		cfg:      config.Config(c.Flags),
		stdin:    bufio.NewReaderSize(stdin, maxSecretLine),
		stdout:   stdout,
		stderr:   stderr,
	}
	defer a.close()
	if err := kctx.Run(a); err != nil {
		return report(stderr, err)
	}
	return exitOK
}

// report prints err for an operator: one configuration problem per line.
func report(w io.Writer, err error) int {
	code := exitFailed
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, config.ErrInvalid) {
		code = exitUsage
	}
	if errors.Is(err, config.ErrInvalid) {
		fmt.Fprintln(w, "latchkey: invalid configuration:")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
		return code
	}
	fmt.Fprintf(w, "latchkey: %v\n", err)
	return code
}
