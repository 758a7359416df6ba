//! How a batch of texts is laid out for the encoder: packed for every
//! position-wise operation, padded only where attention needs it, and only as
//! wide as each group of similar lengths.
//!
//! The matrix products, layer norms and activations, nearly all of a pass, run
//! on one `[tokens, hidden]` matrix of the batch's real tokens: no padding, and
//! the more texts a pass holds, the taller that matrix and the better the
//! products use the machine (measured on 2 CPU cores with MiniLM: a forward
//! pass of 8 short texts costs 1.5× a token of one of 64). Attention needs the
//! `[texts, heads, width, width]` layout, and a width is paid by every text of
//! its group: so the texts are sorted longest first and cut into groups in
//! which no text is padded past twice its length, and each group attends on
//! its own. A batch of texts in any order (a server's, in arrival order) then
//! costs what it would sorted by length, in one pass.

use tch::{Device, Kind, Tensor};

/// The texts of a batch in packing order (longest first) and where each of
/// their tokens sits.
pub struct Packing {
    /// Per packed token: its position within its text.
    pub positions: Tensor,
    /// Consecutive runs of packed texts (and so of packed tokens), each
    /// attending on its own.
    pub groups: Vec<Group>,
    /// Per text of the batch as given: its place in packing order.
    place: Tensor,
}

/// Texts of similar lengths, consecutive in packing order.
pub struct Group {
    /// Its first packed token, and how many it has.
    pub start: i64,
    pub tokens: i64,
    /// Its texts and the longest one's length.
    pub batch: i64,
    pub width: i64,
    /// Per token of the group: its row in the group's padded `[batch * width]` layout.
    slots: Tensor,
    /// Per row of the padded layout: the packed row it reads for attention, its
    /// text's first token at padding (see [`Group::pad_masked`]); built for
    /// ragged groups only, the only ones that read it (undefined otherwise).
    gather: Tensor,
    /// `[batch, 1, 1, width]`, true where a key is a real token.
    pub attention_mask: Tensor,
    /// Whether a text is shorter than `width`: without padding, packed rows
    /// already are the padded layout.
    ragged: bool,
}

impl Packing {
    /// Packs a batch of token-id lists, longest first; returns the packed ids
    /// and the layout.
    pub fn new(batch: &[Vec<i64>], device: Device) -> (Tensor, Packing) {
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|&a, &b| batch[b].len().cmp(&batch[a].len()).then(a.cmp(&b)));
        let total: usize = batch.iter().map(Vec::len).sum();
        let mut ids = Vec::with_capacity(total);
        let mut positions = Vec::with_capacity(total);
        let mut groups = Vec::new();
        let t = |v: &[i64]| Tensor::from_slice(v).to(device);
        let mut rest = &order[..];
        while let Some(&first) = rest.first() {
            let width = batch[first].len();
            let n = rest
                .iter()
                .take_while(|&&i| 2 * batch[i].len() >= width)
                .count();
            let (texts, after) = rest.split_at(n);
            rest = after;
            let start = ids.len();
            // Longest first: the group is ragged when its last text is short of the width.
            let ragged = batch[texts[n - 1]].len() < width;
            let mut slots = Vec::new();
            let mut gather = Vec::with_capacity(if ragged { n * width } else { 0 });
            let mut mask = vec![false; n * width];
            for (row, &i) in texts.iter().enumerate() {
                let first = (ids.len() - start) as i64;
                for (pos, &id) in batch[i].iter().enumerate() {
                    ids.push(id);
                    positions.push(pos as i64);
                    slots.push((row * width + pos) as i64);
                    mask[row * width + pos] = true;
                }
                if ragged {
                    let len = batch[i].len() as i64;
                    gather.extend(
                        (0..width as i64).map(|pos| first + if pos < len { pos } else { 0 }),
                    );
                }
            }
            let tokens = ids.len() - start;
            groups.push(Group {
                start: start as i64,
                tokens: tokens as i64,
                batch: n as i64,
                width: width as i64,
                ragged,
                slots: t(&slots),
                gather: if ragged { t(&gather) } else { Tensor::new() },
                attention_mask: Tensor::from_slice(&mask)
                    .view([n as i64, 1, 1, width as i64])
                    .to(device),
            });
        }
        let mut place = vec![0i64; batch.len()];
        for (p, &i) in order.iter().enumerate() {
            place[i] = p as i64;
        }
        let packing = Packing {
            positions: t(&positions),
            groups,
            place: t(&place),
        };
        (t(&ids), packing)
    }

    /// Each group's attention mask (boolean, true where a key is real).
    pub fn masks(&self) -> Vec<Tensor> {
        self.groups
            .iter()
            .map(|g| g.attention_mask.shallow_clone())
            .collect()
    }

    /// Each packed token's position as RoBERTa counts them (Hugging Face's
    /// `create_position_ids_from_input_ids`): the running count of its text's
    /// tokens other than `pad`, offset by `pad`; `pad` itself for a padding id,
    /// which a text can hold (the literal `<pad>` is a special token). The count
    /// runs in the padded layout, where a text is one row.
    pub fn positions_past_pad(&self, ids: &Tensor, pad: i64) -> Tensor {
        let real = ids.ne(pad).to_kind(Kind::Int64);
        let counts = self.per_group(&real, |_, g, real| {
            g.pad(real)
                .view([g.batch, g.width])
                .cumsum(1, Kind::Int64)
                .view([-1])
                .index_select(0, &g.slots)
        });
        counts * real + pad
    }

    /// `f` on each group (its index, itself, its rows of the packed `x`), the
    /// results concatenated: packed rows again when `f` keeps one row per token.
    pub fn per_group(&self, x: &Tensor, f: impl Fn(usize, &Group, &Tensor) -> Tensor) -> Tensor {
        let mut parts: Vec<Tensor> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| f(i, g, &x.narrow(0, g.start, g.tokens)))
            .collect();
        if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            Tensor::cat(&parts, 0)
        }
    }

    /// One row per text in packing order (as [`Packing::per_group`] gives them
    /// when `f` keeps one row per text) back to the batch's order.
    pub fn unsort(&self, rows: &Tensor) -> Tensor {
        rows.index_select(0, &self.place)
    }
}

impl Group {
    /// The group's packed rows in its padded `[batch * width, ..]` layout
    /// (zeros at padding).
    pub fn pad(&self, packed: &Tensor) -> Tensor {
        if !self.ragged {
            return packed.shallow_clone();
        }
        let mut shape = packed.size();
        shape[0] = self.batch * self.width;
        Tensor::zeros(shape, (packed.kind(), packed.device())).index_copy(0, &self.slots, packed)
    }

    /// The group's packed rows in its padded layout for attention, where a
    /// padding row is masked out as a key and dropped as a query: what it holds
    /// does not matter, so it repeats its text's first token. One parallel
    /// gather instead of filling zeros and scattering the real rows into them
    /// (a single-threaded scatter in libtorch, during which the other cores
    /// wait): the real rows' results are the same to the bit, since a masked
    /// key's weight is exactly zero whatever its value.
    pub fn pad_masked(&self, packed: &Tensor) -> Tensor {
        if self.ragged {
            packed.index_select(0, &self.gather)
        } else {
            packed.shallow_clone()
        }
    }

    /// The padded rows of the group's real tokens, packed again.
    pub fn unpad(&self, padded: &Tensor) -> Tensor {
        if self.ragged {
            padded.index_select(0, &self.slots)
        } else {
            padded.shallow_clone()
        }
    }
}
