//go:build tools

package tools

import _ "github.com/docker/distribution/contrib/token-server"
