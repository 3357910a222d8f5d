// The release file's Python runtime: python-build-standalone's CPython for linux-amd64, as the
// Go module proxy serves it inside this module (python/internal/data/linux-amd64). Only its
// files are used, never its Go code; go.sum pins their hash. tools/release.py says how.
module github.com/vault-plugin-secrets-tencentcloud/tools/release

go 1.25.3

require github.com/kluctl/go-embed-python v0.0.0-3.11.11-20241219-1
