package compiled

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/xdpdns/xdpdns/zonecompiler/engine"
)

var buildID struct {
	once sync.Once
	id   string
	err  error
}

// BuildID fingerprints the running program: the SHA-256 of its
// executable, read once. Any other build, even of the same source, gets
// other images (the rendered bytes are the code's, and the format
// version alone cannot say when they change).
func BuildID() (string, error) {
	buildID.once.Do(func() {
		exe, err := os.Executable()
		if err != nil {
			buildID.err = fmt.Errorf("finding the executable: %w", err)
			return
		}
		f, err := os.Open(exe)
		if err != nil {
			buildID.err = fmt.Errorf("reading the executable: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			buildID.err = fmt.Errorf("reading the executable: %w", err)
			return
		}
		buildID.id = hex.EncodeToString(h.Sum(nil))
	})
	return buildID.id, buildID.err
}

// ConfigID fingerprints what the rendered answers depend on besides the
// zones: the engine configuration, defaults applied.
func ConfigID(cfg engine.Config) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%#v", cfg.WithDefaults()))
	return hex.EncodeToString(sum[:])
}

// KeyFor is the Key of this build with cfg.
func KeyFor(cfg engine.Config) (Key, error) {
	b, err := BuildID()
	if err != nil {
		return Key{}, err
	}
	return Key{Build: b, Config: ConfigID(cfg)}, nil
}
