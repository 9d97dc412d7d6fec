package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/ironkv/ironkv/kv"
	"github.com/ironkv/ironkv/secrets"
)

// loadKeyring returns the master keyring of cfg (from IRONKV_MASTER_KEY or
// -master-key-file), or nil when none is configured. It warns when the key
// file can be read by other users. Its errors never show key material.
func loadKeyring(cfg Config, logger *slog.Logger) (*secrets.Keyring, error) {
	if !cfg.hasMasterKey() {
		return nil, nil
	}
	kr, err := secrets.LoadKeyring(string(cfg.MasterKey), cfg.MasterKeyFile)
	if err != nil {
		if cfg.MasterKeyFile != "" {
			return nil, fmt.Errorf("-master-key-file (%s): %w", secrets.EnvMasterKeyFile, err)
		}
		return nil, fmt.Errorf("%s: %w", secrets.EnvMasterKey, err)
	}
	if cfg.MasterKeyFile != "" {
		if fi, err := os.Stat(cfg.MasterKeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			logger.Warn("the master key file can be read by other users; make it readable by the server's user only: chmod 600",
				"file", cfg.MasterKeyFile, "mode", fi.Mode().Perm().String())
		}
	}
	return kr, nil
}

// openSecrets returns the Secrets that the secrets routes serve, on store,
// and says at startup how secrets are kept. It returns nil, and no error,
// when there is neither a master key nor -insecure-plaintext-secrets: the
// routes then answer 503 with how to set a key, and the rest of the server
// works.
func openSecrets(store *kv.Store, kr *secrets.Keyring, cfg Config, logger *slog.Logger) (*secrets.Secrets, error) {
	opts := []secrets.Option{secrets.WithLogger(logger)}
	if cfg.InsecurePlaintextSecrets {
		opts = append(opts, secrets.AllowPlaintextInsecure())
	}
	sec, err := secrets.New(store, kr, opts...)
	switch {
	case errors.Is(err, secrets.ErrNoMasterKey):
		logger.Warn("secrets are disabled: there is no master key, so "+secretsPrefix+" answers 503. "+
			"Set "+secrets.EnvMasterKey+" to a key made with: openssl rand -hex 32 (or pass -master-key-file)",
			"secrets", "disabled")
		return nil, nil
	case err != nil:
		return nil, err
	case kr == nil:
		logger.Warn("SECRETS ARE STORED IN PLAINTEXT: -insecure-plaintext-secrets is set and there is no master key; "+
			"anyone who can read the NATS server or its files can read and change every secret. Never use this outside development",
			"secrets", "PLAINTEXT-INSECURE")
	case cfg.InsecurePlaintextSecrets:
		logger.Warn("-insecure-plaintext-secrets is set with a master key: writes are encrypted, but plaintext records are still accepted; "+
			"run once with -reencrypt-secrets, then drop -insecure-plaintext-secrets",
			"secrets", "encrypted", "keyring", kr)
	default:
		logger.Info("secrets are encrypted with AES-256-GCM", "secrets", "encrypted", "keyring", kr)
	}
	return sec, nil
}

// reencryptSecrets moves every secret of every environment to the active
// key, for -reencrypt-secrets, and logs the report. Secrets that cannot be
// decrypted are left as they are and logged as an error, and the server
// goes on; any other failure (the store does not answer) stops it.
func reencryptSecrets(ctx context.Context, sec *secrets.Secrets, logger *slog.Logger) error {
	rep, err := sec.Reencrypt(ctx, "")
	attrs := []any{"active_key", sec.Keyring().ActiveID(), "environments", rep.Environments, "secrets", rep.Secrets,
		"reencrypted", rep.Reencrypted, "current", rep.Current, "retries", rep.Retries, "failed", rep.Failed}
	switch {
	case err == nil:
		logger.Info("-reencrypt-secrets: every secret is under the active key; older keys can be removed", attrs...)
		return nil
	case errors.Is(err, secrets.ErrDecrypt):
		logger.Error("-reencrypt-secrets: some secrets cannot be decrypted with the keyring and were left as they are; "+
			"add the key that sealed them, or delete them", append(attrs, "err", err)...)
		return nil
	}
	return fmt.Errorf("-reencrypt-secrets: %w (done so far: %d of %d secrets re-encrypted)", err, rep.Reencrypted, rep.Secrets)
}

// secretsMode says how secrets are kept, for the "listening" log line:
// "encrypted", "PLAINTEXT-INSECURE" or "disabled".
func secretsMode(sec *secrets.Secrets) string {
	switch {
	case sec == nil:
		return "disabled"
	case !sec.Encrypted():
		return "PLAINTEXT-INSECURE"
	}
	return "encrypted"
}
