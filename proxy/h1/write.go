package h1

import "strconv"

// AppendRequestLine appends "METHOD URI HTTP/1.x\r\n".
func AppendRequestLine(dst []byte, r *Request) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.URI...)
	dst = appendVersion(dst, " HTTP/1.", r.Minor)
	return append(dst, '\r', '\n')
}

// AppendStatusLine appends "HTTP/1.x CODE REASON\r\n".
func AppendStatusLine(dst []byte, minor, status int, reason []byte) []byte {
	dst = appendVersion(dst, "HTTP/1.", minor)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	return append(dst, '\r', '\n')
}

func appendVersion(dst []byte, prefix string, minor int) []byte {
	dst = append(dst, prefix...)
	return append(dst, byte('0'+minor))
}

// AppendHeader appends "Name: value\r\n".
func AppendHeader(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendHeaderString is AppendHeader for string arguments.
func AppendHeaderString(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\r', '\n')
}

// AppendContentLength appends "Content-Length: n\r\n".
func AppendContentLength(dst []byte, n int64) []byte {
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// AppendChunkSize appends a canonical chunk-size line.
func AppendChunkSize(dst []byte, n int64) []byte {
	dst = strconv.AppendInt(dst, n, 16)
	return append(dst, '\r', '\n')
}

// StatusText returns the reason phrase for the statuses the proxy produces.
func StatusText(code int) string {
	switch code {
	case 100:
		return "Continue"
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Time-out"
	case 413:
		return "Payload Too Large"
	case 431:
		return "Request Header Fields Too Large"
	case 500:
		return "Internal Server Error"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Time-out"
	}
	return "Unknown"
}
