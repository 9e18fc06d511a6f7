package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/method/push"
)

// authenticatorCmd is the Latchkey Authenticator as a command: a device
// that approves sign-in requests (number matching) and shows TOTP codes.
// It needs no database or server configuration, only its state file.
type authenticatorCmd struct {
	Enroll  authEnrollCmd  `cmd:"" help:"Enroll with an enrollment link (the QR code on the Security info page), or store an otpauth:// URI read from stdin (-)."`
	Approve authApproveCmd `cmd:"" help:"Wait for a sign-in request and approve it by typing the number shown on the sign-in page (or deny it)."`
	Codes   authCodesCmd   `cmd:"" help:"Show the current codes of the stored authenticator-app (TOTP) accounts."`
}

// authState is the --state flag of every authenticator subcommand.
type authState struct {
	State string `name:"state" env:"LATCHKEY_AUTHENTICATOR_STATE" help:"State file holding the device keys and TOTP seeds (default: the user config dir, latchkey/authenticator.json)." placeholder:"FILE"`
}

func (c *authState) path() (string, error) {
	if c.State != "" {
		return c.State, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", usageError{fmt.Errorf("no config directory; pass --state: %w", err)}
	}
	return filepath.Join(dir, "latchkey", "authenticator.json"), nil
}

func (c *authState) load() (*authenticator.State, string, error) {
	p, err := c.path()
	if err != nil {
		return nil, "", err
	}
	st, err := authenticator.Load(p)
	return st, p, err
}

type authEnrollCmd struct {
	authState `embed:""`
	Link      string `arg:"" help:"Enrollment link (https://…/static/authenticator/#enroll=…), or - to read a link or an otpauth:// URI from stdin."`
	Name      string `help:"Name of this device, shown in the user's list of methods." default:"latchkey command"`
}

func (c *authEnrollCmd) Run(a *app) error {
	link := c.Link
	if link == "-" {
		line, err := a.stdin.ReadString('\n')
		if err != nil && line == "" {
			return usageError{errors.New("expected a link or an otpauth:// URI on stdin")}
		}
		link = strings.TrimSpace(line)
	} else if strings.HasPrefix(strings.ToLower(link), "otpauth:") {
		// A seed is a long-lived secret; argv is visible to other users.
		return usageError{errors.New("pass otpauth:// URIs on stdin, not as an argument: latchkey authenticator enroll - < uri.txt")}
	}
	st, path, err := c.load()
	if err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(link), "otpauth:") {
		k, err := st.AddTOTP(link)
		if err != nil {
			return usageError{err}
		}
		if err := st.Save(path); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Added authenticator-app account %s (%s).\n", k.AccountName(), k.Issuer())
		return nil
	}
	if _, _, err := authenticator.ParseLink(link); err != nil {
		return usageError{err}
	}
	d, err := (&authenticator.Client{}).Enroll(a.ctx, link, c.Name, nil)
	if err != nil {
		return err
	}
	st.Devices = append(st.Devices, d)
	if err := st.Save(path); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Enrolled for %s at %s (device %s).\nPairing code: %s\nType it on the Security info page to finish, then use `latchkey authenticator approve`.\n",
		d.Account, d.Issuer, d.ID, d.PairingCode)
	return nil
}

type authApproveCmd struct {
	authState `embed:""`
	Number    string        `help:"The number shown on the sign-in page (else asked for on stdin)."`
	Deny      bool          `help:"Deny the request."`
	Report    bool          `help:"Deny the request and report it as not started by you (blocks further pushes for a while)."`
	Wait      time.Duration `help:"How long to wait for a request." default:"2m"`
}

func (c *authApproveCmd) Run(a *app) error {
	if c.Deny && c.Report {
		return usageError{errors.New("--deny and --report exclude each other")}
	}
	st, _, err := c.load()
	if err != nil {
		return err
	}
	if len(st.Devices) == 0 {
		return usageError{errors.New("no enrolled device; run `latchkey authenticator enroll LINK` first")}
	}
	cli := &authenticator.Client{}
	deadline := time.Now().Add(c.Wait)
	var dev *authenticator.Device
	var req push.Request
	for dev == nil {
		left := time.Until(deadline)
		if left <= 0 {
			return errors.New("no sign-in request arrived")
		}
		// Each device gets a short long-poll in turn.
		each := min(max(left/time.Duration(len(st.Devices)), time.Second), push.MaxWait)
		for _, d := range st.Devices {
			reqs, err := cli.Pending(a.ctx, d, each)
			if err != nil {
				return fmt.Errorf("%s: %w", d.Issuer, err)
			}
			if len(reqs) > 0 {
				dev, req = d, reqs[len(reqs)-1]
				break
			}
		}
	}
	place := req.Place
	if place == "" {
		place = "unknown place"
	}
	fmt.Fprintf(a.stdout, "Sign-in request for %s at %s\n  app:   %s\n  time:  %s\n  from:  %s\n",
		dev.Account, dev.Issuer, req.App, req.Time.Local().Format("2006-01-02 15:04:05 MST"), place)
	decision, number := push.Approve, strings.TrimSpace(c.Number)
	switch {
	case c.Deny:
		decision = push.Deny
	case c.Report:
		decision = push.Report
	case number == "":
		fmt.Fprint(a.stdout, "Type the number shown on the sign-in page to approve (d = deny, r = deny and report): ")
		line, err := a.stdin.ReadString('\n')
		if err != nil && line == "" {
			return usageError{errors.New("no answer on stdin; pass --number, --deny or --report")}
		}
		switch number = strings.TrimSpace(line); strings.ToLower(number) {
		case "d", "deny":
			decision, number = push.Deny, ""
		case "r", "report":
			decision, number = push.Report, ""
		}
	}
	result, err := cli.Decide(a.ctx, dev, req.ID, decision, number)
	if err != nil {
		return err
	}
	switch result {
	case "approved":
		fmt.Fprintln(a.stdout, "Approved. The sign-in page continues by itself.")
	case "wrong":
		return errors.New("that was not the number shown on the sign-in page; the request was refused")
	case "reported":
		fmt.Fprintln(a.stdout, "Denied and reported. Your administrator can see the report.")
	default:
		fmt.Fprintln(a.stdout, "Denied.")
	}
	return nil
}

type authCodesCmd struct {
	authState `embed:""`
}

func (c *authCodesCmd) Run(a *app) error {
	st, _, err := c.load()
	if err != nil {
		return err
	}
	if len(st.TOTP) == 0 {
		fmt.Fprintln(a.stdout, "No authenticator-app accounts; add one with `latchkey authenticator enroll - < otpauth-uri`.")
		return nil
	}
	codes, err := st.Codes(time.Now())
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ISSUER\tACCOUNT\tCODE\tVALID")
	for _, k := range codes {
		fmt.Fprintf(w, "%s\t%s\t%s\t%ds\n", k.Issuer, k.Name, k.Code, int(k.Remaining/time.Second))
	}
	return w.Flush()
}
