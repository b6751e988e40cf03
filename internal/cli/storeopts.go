package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/dynamo-cmp/dynamo-cmp/internal/store"
)

// storeOptions are the flags every command that talks to DynamoDB takes. Defaults come from
// the environment: DYNAMO_CMP_TABLE, AWS_REGION (or AWS_DEFAULT_REGION),
// AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL), AWS_ENDPOINT_URL_STS, DYNAMO_CMP_TIMEOUT.
type storeOptions struct {
	table   string
	region  string
	timeout time.Duration
	// flags is the command's flag set, to tell a --table given from the environment's.
	flags *pflag.FlagSet
}

func (o *storeOptions) addFlags(f *pflag.FlagSet, env Env, defaultTimeout time.Duration) {
	o.flags = f
	table := env.Get("DYNAMO_CMP_TABLE")
	if table == "" {
		table = store.DefaultTable
	}
	f.StringVar(&o.table, "table", table, "DynamoDB table (env DYNAMO_CMP_TABLE)")
	f.StringVar(&o.region, "region", env.Get("AWS_REGION", "AWS_DEFAULT_REGION"), "AWS region (env AWS_REGION)")
	timeout := defaultTimeout
	if v := env.Get("DYNAMO_CMP_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			timeout = d
		}
	}
	f.DurationVar(&o.timeout, "timeout", timeout, "deadline of the whole command (env DYNAMO_CMP_TIMEOUT)")
}

// config turns the options and the environment into the store's configuration. Static keys
// in the environment are passed explicitly; everything else (shared config, IRSA web
// identity, EKS Pod Identity) is the SDK's default credential chain.
func (o *storeOptions) config(env Env) (store.Config, error) {
	if env.Get("DYNAMO_CMP_TIMEOUT") != "" {
		if d, err := time.ParseDuration(env.Get("DYNAMO_CMP_TIMEOUT")); err != nil || d <= 0 {
			return store.Config{}, withCode(ExitUsage, fmt.Errorf("DYNAMO_CMP_TIMEOUT=%q is not a positive duration such as 30s", env.Get("DYNAMO_CMP_TIMEOUT")))
		}
	}
	if err := o.checkTable(); err != nil {
		return store.Config{}, err
	}
	cfg := store.Config{
		Table:       o.table,
		Region:      o.region,
		Endpoint:    env.Get("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"),
		STSEndpoint: env.Get("AWS_ENDPOINT_URL_STS"),
		Profile:     env.Get("AWS_PROFILE"),
	}
	if id, secret := env.Get("AWS_ACCESS_KEY_ID"), env.Get("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		cfg.StaticCredentials = &store.StaticCredentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: env.Get("AWS_SESSION_TOKEN")}
	}
	return cfg, nil
}

// checkTable refuses, before any call, a table name DynamoDB would refuse, and an empty
// --table: it must not fall back to the default table (and write there) when the user meant
// another one.
func (o *storeOptions) checkTable() error {
	given := o.flags != nil && o.flags.Changed("table")
	if given && o.table == "" {
		return withCode(ExitUsage, fmt.Errorf("--table is empty: name the DynamoDB table, or leave the flag out to use DYNAMO_CMP_TABLE (default %s)", store.DefaultTable))
	}
	if err := store.CheckTableName(o.table); err != nil {
		source := "--table " + quoteShort(o.table)
		if !given {
			source = "DYNAMO_CMP_TABLE=" + quoteShort(o.table)
		}
		return withCode(ExitUsage, fmt.Errorf("%s: %w", source, err))
	}
	return nil
}

// quoteShort quotes a value from the command line for a message, cut to 60 bytes.
func quoteShort(s string) string {
	if len(s) > 60 {
		s = strings.ToValidUTF8(s[:60], "") + "…"
	}
	return strconv.Quote(s)
}
