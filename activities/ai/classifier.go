package ai

import (
	"math"
	"math/rand/v2"
	"unicode/utf8"
)

// classifier is a multinomial logistic regression over the terms of a
// message and pairs of adjacent terms, trained in-process on a knowledge
// base's example questions whenever the knowledge base changes. Its
// probabilities are the engine's confidence: unlike a retrieval score, they
// weigh an intent against all the others.
type classifier struct {
	nLabels int
	vocab   map[string]int32
	w       []float32 // feature-major: w[f*nLabels+k]
	bias    []float32
}

type example struct {
	features []string
	label    int
}

// Training settings: fixed, and the shuffle seeded, so the same data always
// gives the same model. Knowledge bases are small and clean: eight passes;
// emotion corpora are large and noisy, and more passes only fit their noise.
const (
	kbEpochs      = 8
	emotionEpochs = 1
	learningRate  = 0.4
	// tinyGradient: updates smaller than this are skipped; after the first
	// epoch most labels' probabilities for an example are about zero.
	tinyGradient = 1e-4
)

// features turns terms into the classifier's inputs: each term, and each
// pair of adjacent English terms (Chinese terms are already characters and
// character pairs).
func features(terms []string) []string {
	out := make([]string, 0, 2*len(terms))
	seen := make(map[string]bool, 2*len(terms))
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for i, t := range terms {
		add(t)
		if i > 0 && t[0] < utf8.RuneSelf && terms[i-1][0] < utf8.RuneSelf {
			add(terms[i-1] + "\x00" + t)
		}
	}
	return out
}

// ids maps features to the vocabulary, leaving out unknown ones.
func (c *classifier) ids(feats []string) []int32 {
	out := make([]int32, 0, len(feats))
	for _, f := range feats {
		if id, ok := c.vocab[f]; ok {
			out = append(out, id)
		}
	}
	return out
}

// trainClassifier fits a classifier on features seen in at least minCount
// examples (rarer ones are noise in a large corpus, and weigh on a model
// that is shipped).
func trainClassifier(examples []example, nLabels, minCount, epochs int) *classifier {
	c := &classifier{nLabels: nLabels, vocab: map[string]int32{}, bias: make([]float32, nLabels)}
	counts := map[string]int{}
	for _, ex := range examples {
		for _, f := range ex.features {
			counts[f]++
		}
	}
	for _, ex := range examples { // in example order, so IDs are the same every run
		for _, f := range ex.features {
			if _, ok := c.vocab[f]; !ok && counts[f] >= minCount {
				c.vocab[f] = int32(len(c.vocab))
			}
		}
	}
	encoded := make([][]int32, len(examples))
	for i, ex := range examples {
		encoded[i] = c.ids(ex.features)
	}
	c.w = make([]float32, len(c.vocab)*nLabels)
	g2 := make([]float32, len(c.w)) // AdaGrad: a step size per weight, so rare features learn fast
	biasG2 := make([]float32, nLabels)
	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(1, 2))
	probs := make([]float64, nLabels)
	for range epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			feats := encoded[i]
			scale := c.scores(feats, probs)
			softmax(probs)
			for k := range nLabels {
				grad := probs[k]
				if k == examples[i].label {
					grad--
				}
				if math.Abs(grad) < tinyGradient {
					continue
				}
				biasG2[k] += float32(grad * grad)
				c.bias[k] -= float32(learningRate * grad / math.Sqrt(float64(biasG2[k])+1e-8))
				g := grad * scale
				gg := float32(g * g)
				for _, f := range feats {
					j := int(f)*nLabels + k
					g2[j] += gg
					c.w[j] -= float32(learningRate * g / math.Sqrt(float64(g2[j])+1e-8))
				}
			}
		}
	}
	return c
}

// scores writes the raw score of each label into out and returns the
// feature scale: features count 1/√n each, so long messages are not louder.
func (c *classifier) scores(feats []int32, out []float64) float64 {
	scale := 1.0
	if len(feats) > 0 {
		scale = 1 / math.Sqrt(float64(len(feats)))
	}
	for k := range out {
		out[k] = float64(c.bias[k])
	}
	for _, f := range feats {
		row := c.w[int(f)*c.nLabels : int(f+1)*c.nLabels]
		for k, w := range row {
			out[k] += float64(w) * scale
		}
	}
	return scale
}

// predict returns the probability of each label.
func (c *classifier) predict(feats []string) []float64 {
	p := make([]float64, c.nLabels)
	c.scores(c.ids(feats), p)
	softmax(p)
	return p
}

func softmax(x []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	var sum float64
	for i, v := range x {
		x[i] = math.Exp(v - m)
		sum += x[i]
	}
	for i := range x {
		x[i] /= sum
	}
}
