package ai

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sort"
	"strconv"
	"strings"

	"tandem/activities/ai/lang"
)

// Learned emotion models, trained by `tandem train-emotion` from the public
// data in ../shared/eval (see models/README.md for what each learned from).
// A model is a binary logistic regression over the classifier's features:
// the probability that a message is negative, or distressed.
//
//go:embed models
var modelFiles embed.FS

// binaryModel scores P(yes) for a message's features.
type binaryModel struct {
	Name       string  `json:"name"`
	Provenance string  `json:"provenance"`
	Bias       float32 `json:"bias"`
	weights    map[string]float32
}

// The models the engine uses, by file name under models/.
const (
	modelNegativityEN = "negativity_en"
	modelNegativityZH = "negativity_zh"
	modelDistressZH   = "distress_zh"
)

func (m *binaryModel) prob(feats []string) float64 {
	var sum float64
	known := 0
	for _, f := range feats {
		if _, ok := m.weights[f]; ok {
			known++
		}
	}
	if known == 0 {
		return 1 / (1 + math.Exp(-float64(m.Bias)))
	}
	scale := 1 / math.Sqrt(float64(known))
	for _, f := range feats {
		sum += float64(m.weights[f]) * scale
	}
	return 1 / (1 + math.Exp(-(float64(m.Bias) + sum)))
}

// binaryFrom turns a two-label classifier into a binary model: label 1's
// weights less label 0's.
func binaryFrom(c *classifier, name, provenance string) *binaryModel {
	m := &binaryModel{Name: name, Provenance: provenance, Bias: c.bias[1] - c.bias[0], weights: make(map[string]float32, len(c.vocab))}
	for f, id := range c.vocab {
		m.weights[f] = c.w[int(id)*2+1] - c.w[int(id)*2]
	}
	return m
}

// write saves the model as a JSON header line, then "weight<TAB>feature"
// lines in feature order (features hold no whole sentence of any data set:
// words, characters, and pairs of them).
func (m *binaryModel) write(w io.Writer) error {
	head, err := json.Marshal(m)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	bw.Write(head)
	bw.WriteByte('\n')
	feats := make([]string, 0, len(m.weights))
	for f := range m.weights {
		feats = append(feats, f)
	}
	sort.Strings(feats)
	for _, f := range feats {
		fmt.Fprintf(bw, "%s\t%s\n", strconv.FormatFloat(float64(m.weights[f]), 'f', 3, 32), strconv.Quote(f))
	}
	return bw.Flush()
}

func readModel(r io.Reader) (*binaryModel, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return nil, errors.New("empty model")
	}
	m := &binaryModel{weights: map[string]float32{}}
	if err := json.Unmarshal(sc.Bytes(), m); err != nil {
		return nil, fmt.Errorf("model header: %w", err)
	}
	for sc.Scan() {
		w, f, ok := bytes.Cut(sc.Bytes(), []byte{'\t'})
		if !ok {
			return nil, fmt.Errorf("model %s: a line without a tab", m.Name)
		}
		v, err := strconv.ParseFloat(string(w), 32)
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		feat, err := strconv.Unquote(string(f))
		if err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
		m.weights[feat] = float32(v)
	}
	return m, sc.Err()
}

// loadModels reads the embedded models; a missing one is simply not used.
func loadModels() (map[string]*binaryModel, error) {
	out := map[string]*binaryModel{}
	for _, name := range []string{modelNegativityEN, modelNegativityZH, modelDistressZH} {
		raw, err := modelFiles.ReadFile("models/" + name + ".tsv")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		m, err := readModel(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		out[name] = m
	}
	return out, nil
}

// isEnglish says whether a normalized text is written in Latin letters
// rather than Chinese.
func isEnglish(lang string) bool { return !strings.HasPrefix(lang, "zh") }

// minModelFeatureCount: features rarer than this in the training rows are
// left out of a shipped model.
const minModelFeatureCount = 5

// TrainEmotionModel trains a binary model on texts (yes[i]: texts[i] is
// negative, or distressed) and writes it to w.
func TrainEmotionModel(name, provenance string, texts []string, yes []bool, w io.Writer) error {
	sc, err := lang.LoadScripts()
	if err != nil {
		return err
	}
	a := lang.Analyzer{Scripts: sc}
	examples := make([]example, 0, len(texts))
	for i, t := range texts {
		label := 0
		if yes[i] {
			label = 1
		}
		examples = append(examples, example{features: features(a.ClassifierTerms(a.Normalize(t))), label: label})
	}
	return binaryFrom(trainClassifier(examples, 2, minModelFeatureCount, emotionEpochs), name, provenance).write(w)
}
