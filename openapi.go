// Package gatehouse embeds the files of the repository that the binary serves.
package gatehouse

import _ "embed"

// OpenAPI is the admin API contract, api/openapi.yaml.
//
//go:embed api/openapi.yaml
var OpenAPI []byte
