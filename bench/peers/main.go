package main

import (
	_ "github.com/ironkv/ironkv/embedded"
	_ "github.com/redis/go-redis/v9"
	_ "go.etcd.io/etcd/client/v3"
)

func main() {}
