module github.com/vault-plugin-secrets-tencentcloud/tools/bench/cloudstub

// The standard library only: the Makefile builds this offline, with nothing to download.

go 1.24
