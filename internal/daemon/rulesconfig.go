package daemon

import (
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/proxy"
)

// proxyRules maps a frontend's http_request, http_response, tcp_request,
// normalize_uri and timeouts.tarpit onto the proxy's.
func proxyRules(cfg *config.Config, f *config.Frontend, pf *proxy.Frontend) {
	users := map[string][]string{}
	for _, u := range cfg.Userlists {
		users[u.Name] = u.Users
	}
	rule := func(r config.HTTPRule) proxy.HTTPRule {
		pr := proxy.HTTPRule{
			Action: r.Action, If: r.If, Unless: r.Unless, Name: r.Name, Value: r.Value, Match: r.Match,
			Location: r.Location, Prefix: r.Prefix, Scheme: r.Scheme,
			ContentType: r.ContentType, Body: r.String, File: r.File,
			Realm: r.Realm, Users: users[r.Userlist], Key: r.Key, Table: r.Table,
		}
		switch r.Action {
		case "deny", "tarpit":
			pr.Status = r.DenyStatus
		case "return":
			pr.Status = r.Status
		case "redirect":
			pr.Status = r.Code
		}
		return pr
	}
	for _, r := range f.HTTPRequest {
		pf.HTTPRequestRules = append(pf.HTTPRequestRules, rule(r))
	}
	for _, r := range f.HTTPResponse {
		pf.HTTPResponseRules = append(pf.HTTPResponseRules, proxy.HTTPRule{Action: r.Action, If: r.If, Unless: r.Unless, Name: r.Name, Value: r.Value})
	}
	if f.TCPRequest != nil {
		for _, r := range f.TCPRequest.Connection {
			pf.TCPConnectionRules = append(pf.TCPConnectionRules, proxy.TCPRule{Action: r.Action, If: r.If, Unless: r.Unless, Key: r.Key, Table: r.Table})
		}
		for _, r := range f.TCPRequest.Content {
			pf.TCPContentRules = append(pf.TCPContentRules, proxy.TCPRule{Action: r.Action, If: r.If, Unless: r.Unless, Key: r.Key, Table: r.Table})
		}
	}
	switch f.NormalizeURI {
	case "off":
		pf.NormalizeURI = proxy.NormalizeOff
	case "rewrite":
		pf.NormalizeURI = proxy.NormalizeRewrite
	default:
		pf.NormalizeURI = proxy.NormalizeACL
	}
	for _, r := range f.HTTPRequest {
		if r.Action == "tarpit" {
			pf.TarpitTimeout = f.Timeouts.Tarpit
		}
	}
}
