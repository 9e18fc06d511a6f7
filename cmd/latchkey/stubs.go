package main

import "errors"

// errNotYet is returned by command groups whose packages are still being
// built by other owners (methods and policy belong to the SSPR plugin).
var errNotYet = errors.New("this command is not available in this build yet")

type methodCmd struct {
	Add    methodAddCmd    `cmd:"" help:"Register a verified method for a user (email, mobile, alternate-phone, office-phone)."`
	List   methodListCmd   `cmd:"" help:"List a user's methods."`
	Remove methodRemoveCmd `cmd:"" help:"Remove a method."`
}

type methodAddCmd struct {
	User      string `required:"" help:"Username, email address or user ID."`
	Type      string `required:"" enum:"email,mobile,alternate-phone,office-phone" help:"Method type."`
	Value     string `required:"" help:"Email address or phone number."`
	Extension string `help:"Office phone extension (digits only)."`
}

func (c *methodAddCmd) Run(a *app) error { return errNotYet }

type methodListCmd struct {
	User string `required:"" help:"Username, email address or user ID."`
}

func (c *methodListCmd) Run(a *app) error { return errNotYet }

type methodRemoveCmd struct {
	User string `required:"" help:"Username, email address or user ID."`
	ID   string `required:"" help:"Method ID (from method list)."`
}

func (c *methodRemoveCmd) Run(a *app) error { return errNotYet }
