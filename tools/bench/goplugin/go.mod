module github.com/vault-plugin-secrets-tencentcloud/tools/bench/goplugin

// Not read by the build: the Makefile builds this directory with -modfile=tools/vault/go.mod,
// so the baseline uses exactly the module graph (and sdk) of the Vault the tests run.

go 1.25.3
