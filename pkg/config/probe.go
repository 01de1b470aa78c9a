package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default terminal addresses by generation.
const (
	DefaultV3URL = "http://127.0.0.1:25503"
	DefaultV2URL = "http://127.0.0.1:25510"
)

// probeTimeout bounds each health request.
const probeTimeout = 3 * time.Second

// ProbeTerminal asks the Theta Terminal for its upstream status: first the
// v3 health endpoint (/v3/terminal/mdds/status), then the v2 one
// (/v2/system/mdds/status), each with a 3 s limit. An empty baseURL probes
// the default address of each generation. It returns the generation that
// answered ("v3" or "v2") and its status word (CONNECTED, UNVERIFIED,
// DISCONNECTED or ERROR); when neither answers the error says what to do.
func ProbeTerminal(ctx context.Context, baseURL string) (generation, status string, err error) {
	base := strings.TrimRight(baseURL, "/")
	probes := []struct{ gen, url string }{
		{"v3", base + "/v3/terminal/mdds/status"},
		{"v2", base + "/v2/system/mdds/status"},
	}
	if base == "" {
		probes[0].url = DefaultV3URL + "/v3/terminal/mdds/status"
		probes[1].url = DefaultV2URL + "/v2/system/mdds/status"
	}
	// No proxy: the terminal is on this machine (or behind spx's own
	// forwarder), and an HTTP_PROXY must not intercept it.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	var errs []string
	for _, p := range probes {
		st, err := probeOne(ctx, client, p.url)
		if err == nil {
			return p.gen, st, nil
		}
		if ctx.Err() != nil {
			return "", "", ctx.Err()
		}
		errs = append(errs, fmt.Sprintf("%s: %v", p.url, err))
	}
	where := baseURL
	if where == "" {
		where = DefaultV3URL + " or " + DefaultV2URL
	}
	return "", "", fmt.Errorf("no Theta Terminal answered at %s (%s): start the terminal (java -jar ThetaTerminalv3.jar) or set thetadata.base_url / --terminal to its address",
		where, strings.Join(errs, "; "))
}

func probeOne(ctx context.Context, client *http.Client, target string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return "", ue.Err // the URL is already in the message
		}
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	word := strings.TrimSpace(string(body))
	if word == "" {
		return "", errors.New("empty answer")
	}
	return word, nil
}
