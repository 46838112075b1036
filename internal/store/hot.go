package store

import (
	"sync"

	"github.com/gatehouse-id/gatehouse/internal/app"
)

// A decoded-app cache for the hot path (prepared statements: stmt.go).
//
// Decoding an app's settings JSON costs as much as reading its row; the
// cache keeps the decoded app keyed by client ID and checked against the
// row's settings bytes and times, so an update or delete is seen at once
// (the row is still read on every request, and an update need not change
// updated_at) while an unchanged app is decoded once.

// maxCachedApps bounds the decoded-app cache; past it the cache starts over.
const maxCachedApps = 10000

type cachedApp struct {
	created, updated int64
	settings         string
	app              *app.App
}

type hot struct {
	appsMu sync.RWMutex
	apps   map[string]cachedApp
}

// cachedDecode returns the decoded app for the row (clientID, created,
// updated, settings), decoding settings only when the cache has no entry for
// exactly that row. The returned App is shared: callers must not modify it.
func (d *DB) cachedDecode(clientID string, created, updated int64, settings []byte, decode func([]byte) (*app.App, error)) (*app.App, error) {
	d.hot.appsMu.RLock()
	c, ok := d.hot.apps[clientID]
	d.hot.appsMu.RUnlock()
	if ok && c.created == created && c.updated == updated && c.settings == string(settings) {
		return c.app, nil
	}
	a, err := decode(settings)
	if err != nil {
		return nil, err
	}
	d.hot.appsMu.Lock()
	if d.hot.apps == nil || len(d.hot.apps) >= maxCachedApps {
		d.hot.apps = make(map[string]cachedApp)
	}
	d.hot.apps[clientID] = cachedApp{created: created, updated: updated, settings: string(settings), app: a}
	d.hot.appsMu.Unlock()
	return a, nil
}
