package bucket_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ironkv/ironkv/bucket"
)

func ExampleEncodeKey() {
	for _, key := range []string{"user.42", "user:42", "a=b", "café", "a..b"} {
		enc, err := bucket.EncodeKey(key)
		if err != nil {
			fmt.Println(err)
			continue
		}
		dec, _ := bucket.DecodeKey(enc)
		fmt.Printf("%s -> %s -> %s\n", key, enc, dec)
	}
	// Output:
	// user.42 -> user.42 -> user.42
	// user:42 -> user=3A42 -> user:42
	// a=b -> a=3Db -> a=b
	// café -> caf=C3=A9 -> café
	// invalid key: key "a..b": empty token between dots
}

func ExampleDecodeKey() {
	for _, natsKey := range []string{"user=3A42", "user=3a42", "user:42"} {
		key, err := bucket.DecodeKey(natsKey)
		fmt.Printf("%q %v\n", key, err)
	}
	// Output:
	// "user:42" <nil>
	// "" invalid key: encoded key "user=3a42": escape =3a at byte 4 uses lowercase hex; the canonical form is =3A
	// "" invalid key: encoded key "user:42": byte 0x3A at byte 4 is outside [-/_.A-Za-z0-9] and must be escaped as =3A
}

func ExampleParseFilter() {
	f, err := bucket.ParseFilter("tenant:acme.*.>")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Match("tenant:acme.user.1"), f.Match("tenant:acme.user"))
	fmt.Println(f.Subject())

	f, _ = bucket.ParseFilter("user.*.name")
	for _, key := range []string{"user.ann.name", "user.ann.age", "user.ann.name.first"} {
		fmt.Println(key, f.Match(key))
	}
	fmt.Println(f.Subject(), f.LiteralPrefix())

	_, err = bucket.ParseFilter("user-*")
	fmt.Println(err, errors.Is(err, bucket.ErrInvalidKey))
	// Output:
	// true false
	// tenant=3Aacme.*.>
	// user.ann.name true
	// user.ann.age false
	// user.ann.name.first false
	// user.*.name [user]
	// invalid key: filter "user-*": '*' must be a whole token, as in "user.*" true
}

func ExampleConfig_Validate() {
	configs := []bucket.Config{
		{Name: "orders"},
		{Name: "orders", TTL: 24 * time.Hour, History: 10, Replicas: 3},
		{Name: "orders", History: 100},
		{Name: "orders", Replicas: 2},
		{Name: "orders", TTL: 1500 * time.Millisecond},
		{Name: "my orders"},
	}
	for _, c := range configs {
		err := c.Validate()
		fmt.Println(err, errors.Is(err, bucket.ErrInvalidConfig))
	}
	// Output:
	// <nil> false
	// <nil> false
	// invalid bucket config: history 100: must be 1..64 (omit it for the default 1) true
	// invalid bucket config: replicas 2: must be 1, 3 or 5; an even count adds no fault tolerance (2 replicas survive no more failures than 1) true
	// invalid bucket config: ttl_seconds 1.5: must be a whole number of seconds (TTL is 1.5s) true
	// invalid bucket name: bucket name "my orders": character ' ' at byte 2 is not allowed; use only [A-Za-z0-9_-] false
}

func ExampleConfig_UnmarshalJSON() {
	var c bucket.Config
	err := json.Unmarshal([]byte(`{"name":"sessions","ttl_seconds":3600}`), &c)
	fmt.Printf("%+v %v\n", c, err)

	b, _ := json.Marshal(c)
	fmt.Println(string(b))

	for _, doc := range []string{
		`{"name":"sessions","ttl":3600}`,
		`{"name":"sessions","history":0}`,
		`{"name":"sessions","ttl_seconds":"1h"}`,
	} {
		fmt.Println(json.Unmarshal([]byte(doc), &c))
	}
	// Output:
	// {Name:sessions Description: TTL:1h0m0s MaxValueSize:0 MaxBytes:0 History:0 Replicas:0 Storage:} <nil>
	// {"name":"sessions","description":"","ttl_seconds":3600,"max_value_size":0,"max_bytes":0,"history":1,"replicas":1,"storage":"file"}
	// invalid bucket config: unknown field "ttl" in the bucket config (did you mean "ttl_seconds"?); the known fields are name, description, ttl_seconds, max_value_size, max_bytes, history, replicas, storage
	// invalid bucket config: history 0: not a valid count; omit "history" for the default 1
	// invalid bucket config: ttl_seconds: must be a whole number of seconds, not a string
}

func ExampleNamespace_Qualify() {
	full, err := bucket.App.Qualify("orders")
	fmt.Println(full, err, bucket.App.StreamName("orders"))

	name, ok := bucket.App.Strip(full)
	fmt.Println(name, ok)

	// System buckets are never listed as user buckets, and vice versa.
	_, ok = bucket.App.Strip("SYS_secrets_prod")
	fmt.Println(ok)

	_, err = bucket.App.Qualify("../SYS_secrets_prod")
	fmt.Println(errors.Is(err, bucket.ErrInvalidBucketName))
	// Output:
	// APP_orders <nil> KV_APP_orders
	// orders true
	// false
	// true
}
