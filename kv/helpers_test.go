package kv_test

import "github.com/ironkv/ironkv/embedded"

func embedded0() embedded.Config { return embedded.Config{InMemory: true} }

func embeddedTCP() embedded.Config {
	return embedded.Config{InMemory: true, ClientListen: "127.0.0.1:0"}
}
