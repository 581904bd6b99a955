package logs

import (
	"strconv"

	"github.com/lbd-ha/lbd/internal/logformat"
)

// FrontendLog is one frontend's access-log settings.
type FrontendLog struct {
	// Format is the compiled log_format; nil: httplog or tcplog.
	Format []logformat.Item
	// Privacy masks or pseudonymises the client address; nil: as is.
	Privacy *Privacy
}

// CompileFrontendLog compiles a log_format (empty: the default formats)
// and a privacy setting into a FrontendLog; nil when neither is set.
func CompileFrontendLog(format string, p *Privacy) (*FrontendLog, error) {
	if format == "" && p == nil {
		return nil, nil
	}
	fl := &FrontendLog{Privacy: p}
	if format != "" {
		items, err := logformat.Parse(format)
		if err != nil {
			return nil, err
		}
		fl.Format = items
	}
	return fl, nil
}

// AppendRecord appends r's message as fl says (nil fl: Append). The record
// is not changed: a masked client is formatted from a copy on the stack.
func AppendRecord(dst []byte, r *Record, fl *FrontendLog) []byte {
	if fl == nil {
		return Append(dst, r)
	}
	if fl.Privacy != nil {
		rc := *r
		rc.Client = fl.Privacy.Client(r.Client, r.AcceptedAt)
		return appendWith(dst, &rc, fl)
	}
	return appendWith(dst, r, fl)
}

func appendWith(dst []byte, r *Record, fl *FrontendLog) []byte {
	if fl.Format == nil {
		return Append(dst, r)
	}
	return AppendFormat(dst, fl.Format, r)
}

// AppendFormat appends r rendered with a compiled log-format. Fields are
// encoded as in the default formats (spaces and quotes in names as #XX,
// "-" for empty ones); it does not allocate when dst has room.
func AppendFormat(dst []byte, items []logformat.Item, r *Record) []byte {
	for i := range items {
		it := &items[i]
		if it.Var == logformat.Lit {
			dst = append(dst, it.Text...)
			continue
		}
		if it.Quote {
			dst = append(dst, '"')
		}
		dst = appendVar(dst, it.Var, r)
		if it.Quote {
			dst = append(dst, '"')
		}
	}
	return dst
}

func appendVar(dst []byte, v logformat.Var, r *Record) []byte {
	switch v {
	case logformat.ClientIP:
		if !r.Client.IsValid() {
			return append(dst, '-')
		}
		return r.Client.Addr().Unmap().WithZone("").AppendTo(dst)
	case logformat.ClientPort:
		if !r.Client.IsValid() {
			return append(dst, '-')
		}
		return strconv.AppendUint(dst, uint64(r.Client.Port()), 10)
	case logformat.RequestDate:
		return AppendDate(dst, r.AcceptedAt)
	case logformat.Frontend:
		return appendField(dst, r.Frontend, maxField)
	case logformat.Backend:
		be := r.Backend
		if be == "" {
			be = r.Frontend
		}
		return appendField(dst, be, maxField)
	case logformat.Server:
		if r.Server == "" {
			return append(dst, NoServer...)
		}
		return appendField(dst, r.Server, maxField)
	case logformat.TR:
		return appendMs(dst, r.TR)
	case logformat.Tw:
		return appendMs(dst, r.Tw)
	case logformat.Tc:
		return appendMs(dst, r.Tc)
	case logformat.Tr:
		return appendMs(dst, r.Tr)
	case logformat.Ta, logformat.Tt:
		return appendMs(dst, r.Ta)
	case logformat.Status:
		if r.Status > 0 {
			return strconv.AppendInt(dst, int64(r.Status), 10)
		}
		return append(dst, "-1"...)
	case logformat.Bytes:
		return strconv.AppendInt(dst, r.BytesRead, 10)
	case logformat.ReqCookie:
		return appendField(dst, r.ReqCookie, maxField)
	case logformat.RespCookie:
		return appendField(dst, r.RespCookie, maxField)
	case logformat.TermState:
		return appendState(dst, r.Termination, 4)
	case logformat.TermState2:
		return appendState(dst, r.Termination, 2)
	case logformat.ActConn:
		return strconv.AppendInt(dst, r.ActConn, 10)
	case logformat.FeConn:
		return strconv.AppendInt(dst, r.FeConn, 10)
	case logformat.BeConn:
		return strconv.AppendInt(dst, r.BeConn, 10)
	case logformat.SrvConn:
		return strconv.AppendInt(dst, r.SrvConn, 10)
	case logformat.Retries:
		if r.Redispatch {
			dst = append(dst, '+')
		}
		return strconv.AppendInt(dst, int64(r.Retries), 10)
	case logformat.SrvQueue:
		return strconv.AppendInt(dst, r.SrvQueue, 10)
	case logformat.BackendQueue:
		return strconv.AppendInt(dst, r.BackendQueue, 10)
	case logformat.ReqHeaders, logformat.RespHeaders:
		return dst // no captures in lbd: HAProxy prints nothing then
	case logformat.RequestLine:
		if r.TCP {
			return append(dst, '-')
		}
		if r.RequestLine == "" {
			return append(dst, BadRequest...)
		}
		return appendEscaped(dst, r.RequestLine, MaxRequestLine, false)
	}
	return dst
}
