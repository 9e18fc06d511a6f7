package main

type clientCmd struct{}
