package main

type serveCmd struct{}

func (c *serveCmd) Run(a *app) error { return errNotYet }
