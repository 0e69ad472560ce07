// Package tandemclient is a Go client of Tandem's HTTP API, generated from
// the contract (api/openapi.yaml) by oapi-codegen, as any client's would be.
// It proves the contract can be generated from; make lint regenerates it
// and fails when the committed file differs. After changing a route:
//
//	go generate ./api/tandemclient/
package tandemclient

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -generate types,client -package tandemclient -o client.gen.go ../openapi.yaml
