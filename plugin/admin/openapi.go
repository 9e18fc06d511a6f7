package admin

import (
	_ "embed"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"sigs.k8s.io/yaml"
)

// openAPIYAML is the API's OpenAPI 3.1 document, written by hand beside
// the handlers (a test holds it equal to the registered routes and checks
// real responses against it).
//
//go:embed openapi.yaml
var openAPIYAML []byte

var openAPIOnce = sync.OnceValues(func() ([]byte, error) { return yaml.YAMLToJSON(openAPIYAML) })

// openAPIJSON is the document as served.
func openAPIJSON() ([]byte, error) { return openAPIOnce() }

// OpenAPI returns the document as JSON (for tests and tools).
func OpenAPI() []byte {
	b, _ := openAPIJSON()
	return b
}

func (a *API) serveOpenAPI(c echo.Context) error {
	b, err := openAPIJSON()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}
