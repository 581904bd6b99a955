package h1

// KindOf classifies a header name as the parser does (KindOther for the
// names the proxy does not act on).
func KindOf(name []byte) Kind { return classify(name) }
