package proxy

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/lbd-ha/lbd/proxy/h1"
)

// errorMessages are the built-in error page texts, in HAProxy's style (a
// short HTML page, Cache-Control no-cache, connection closed).
var errorMessages = map[int]string{
	400: "Your browser sent an invalid request.",
	403: "Request forbidden by administrative rules.",
	408: "Your browser didn't send a complete request in time.",
	431: "Your browser sent too many or too large request headers.",
	500: "An internal server error occurred.",
	502: "The server returned an invalid or incomplete response.",
	503: "No server is available to handle this request.",
	504: "The server didn't respond in time.",
}

// maxErrorFile bounds an error_files entry.
const maxErrorFile = 64 << 10

func buildErrorPage(code int, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", code, h1.StatusText(code))
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	b.WriteString("Cache-Control: no-cache\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}

func defaultBody(code int) []byte {
	return fmt.Appendf(nil, "<html><body><h1>%d %s</h1>\n%s\n</body></html>\n", code, h1.StatusText(code), errorMessages[code])
}

var defaultErrorPages = func() map[int][]byte {
	m := map[int][]byte{}
	for code := range errorMessages {
		m[code] = buildErrorPage(code, defaultBody(code))
	}
	return m
}()

// buildErrorPages applies error_files: a file that starts with "HTTP/" is a
// complete raw response (HAProxy errorfile format, sent as is); anything else
// is an HTML body wrapped in the standard headers.
func buildErrorPages(files []ErrorFile, read func(string) ([]byte, error)) (map[int][]byte, error) {
	if len(files) == 0 {
		return defaultErrorPages, nil
	}
	m := make(map[int][]byte, len(defaultErrorPages))
	for k, v := range defaultErrorPages {
		m[k] = v
	}
	for _, ef := range files {
		if _, ok := errorMessages[ef.Code]; !ok {
			return nil, fmt.Errorf("error_files: code %d: want one of 400, 403, 408, 431, 500, 502, 503, 504", ef.Code)
		}
		data, err := read(ef.File)
		if err != nil {
			return nil, fmt.Errorf("error_files: code %d: %w", ef.Code, err)
		}
		if len(data) > maxErrorFile {
			return nil, fmt.Errorf("error_files: %s is larger than %d bytes", ef.File, maxErrorFile)
		}
		if bytes.HasPrefix(data, []byte("HTTP/")) {
			var r h1.Response
			if err := h1.ParseResponse(data, &r); err != nil {
				return nil, fmt.Errorf("error_files: %s: not a valid HTTP response: %w", ef.File, err)
			}
			m[ef.Code] = data
			continue
		}
		m[ef.Code] = buildErrorPage(ef.Code, data)
	}
	return m, nil
}

func (f *frontend) errorPage(code int) []byte {
	if p, ok := f.errPages[code]; ok {
		return p
	}
	return buildErrorPage(code, nil)
}
