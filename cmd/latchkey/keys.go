package main

type keysCmd struct{}
