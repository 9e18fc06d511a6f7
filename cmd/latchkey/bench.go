package main

type benchCmd struct{}

func (c *benchCmd) Run(a *app) error { return errNotYet }
