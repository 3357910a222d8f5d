// Command goplugin is the benchmark's Go baseline: an external secrets plugin built from
// Vault's own sdk that does what the Python engine's role read does at the storage level.
// Reading roles/<name> is one storage get and a JSON decode; writing it is one storage put,
// used only to seed the value. Anything more would make the comparison unequal.
package main

import (
	"context"
	"encoding/json"
	"os"

	hclog "github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/sdk/framework"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/sdk/plugin"
)

func main() {
	meta := &api.PluginAPIClientMeta{}
	flags := meta.FlagSet()
	if err := flags.Parse(os.Args[1:]); err != nil {
		fatal(err)
	}
	err := plugin.ServeMultiplex(&plugin.ServeOpts{
		BackendFactoryFunc: factory,
		TLSProviderFunc:    api.VaultPluginTLSProvider(meta.GetTLSConfig()),
	})
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	hclog.New(&hclog.LoggerOptions{}).Error("plugin shutting down", "error", err)
	os.Exit(1)
}

func factory(ctx context.Context, conf *logical.BackendConfig) (logical.Backend, error) {
	b := &framework.Backend{
		BackendType: logical.TypeLogical,
		Help:        "Benchmark baseline: roles/<name> is one storage get.",
		Paths: []*framework.Path{{
			Pattern: "roles/" + framework.GenericNameRegex("name"),
			Fields: map[string]*framework.FieldSchema{
				"name": {Type: framework.TypeString, Required: true},
				"data": {Type: framework.TypeString},
			},
			Operations: map[logical.Operation]framework.OperationHandler{
				logical.ReadOperation:   &framework.PathOperation{Callback: read},
				logical.UpdateOperation: &framework.PathOperation{Callback: write},
				logical.CreateOperation: &framework.PathOperation{Callback: write},
			},
			ExistenceCheck: func(context.Context, *logical.Request, *framework.FieldData) (bool, error) {
				return false, nil
			},
		}},
	}
	if err := b.Setup(ctx, conf); err != nil {
		return nil, err
	}
	return b, nil
}

func read(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	entry, err := req.Storage.Get(ctx, "role/"+d.Get("name").(string))
	if err != nil || entry == nil {
		return nil, err
	}
	var data map[string]interface{}
	if err := json.Unmarshal(entry.Value, &data); err != nil {
		return nil, err
	}
	return &logical.Response{Data: data}, nil
}

func write(ctx context.Context, req *logical.Request, d *framework.FieldData) (*logical.Response, error) {
	value, _ := d.Get("data").(string)
	if !json.Valid([]byte(value)) {
		return logical.ErrorResponse("data must be a JSON object"), nil
	}
	entry := &logical.StorageEntry{Key: "role/" + d.Get("name").(string), Value: []byte(value)}
	return nil, req.Storage.Put(ctx, entry)
}
