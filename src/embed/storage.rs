//! How precisely vectors are kept once computed (`--vector-precision`). A
//! concatenation of several layers multiplies what the cache holds, and 16 bits a
//! value halve it. The vectors are rounded as they leave the encoder, before the
//! cache, the heads or a file see them, so a vector read back from a 16-bit cache
//! equals the one just computed bit for bit: same data, same numbers, whether
//! the cache was warm or not. The encoder's arithmetic is `--precision`'s
//! business, not this.

use crate::input_error;
use anyhow::Result;
use half::{bf16, f16};
use tch::{Kind, Tensor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum VectorPrecision {
    /// 4 bytes a value: the vectors as computed
    #[default]
    Fp32,
    /// IEEE half: 2 bytes a value, 11 significant bits (relative error ≤ 2⁻¹¹)
    Fp16,
    /// bfloat16: 2 bytes a value, 8 significant bits (relative error ≤ 2⁻⁸)
    Bf16,
}

impl VectorPrecision {
    pub fn name(self) -> &'static str {
        match self {
            VectorPrecision::Fp32 => "fp32",
            VectorPrecision::Fp16 => "fp16",
            VectorPrecision::Bf16 => "bf16",
        }
    }

    /// Bytes one value takes in the cache.
    pub fn bytes(self) -> usize {
        match self {
            VectorPrecision::Fp32 => 4,
            VectorPrecision::Fp16 | VectorPrecision::Bf16 => 2,
        }
    }

    /// The safetensors dtype of the cache's `embeddings` tensor.
    pub fn dtype(self) -> safetensors::Dtype {
        match self {
            VectorPrecision::Fp32 => safetensors::Dtype::F32,
            VectorPrecision::Fp16 => safetensors::Dtype::F16,
            VectorPrecision::Bf16 => safetensors::Dtype::BF16,
        }
    }

    /// The same, as a safetensors header spells it.
    pub fn dtype_name(self) -> &'static str {
        match self {
            VectorPrecision::Fp32 => "F32",
            VectorPrecision::Fp16 => "F16",
            VectorPrecision::Bf16 => "BF16",
        }
    }

    /// f32 vectors rounded (to nearest, ties to even) to this precision and
    /// widened back: every value is then exactly representable in the cache.
    pub fn round(self, vectors: Tensor) -> Tensor {
        match self {
            VectorPrecision::Fp32 => vectors,
            VectorPrecision::Fp16 => vectors.to_kind(Kind::Half).to_kind(Kind::Float),
            VectorPrecision::Bf16 => vectors.to_kind(Kind::BFloat16).to_kind(Kind::Float),
        }
    }

    /// Little-endian bytes of `values` at this precision.
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            VectorPrecision::Fp32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            VectorPrecision::Fp16 => values
                .iter()
                .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                .collect(),
            VectorPrecision::Bf16 => values
                .iter()
                .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
                .collect(),
        }
    }

    /// `bytes` (from [`VectorPrecision::encode`]) back into `out`, widened to f32.
    pub fn decode(self, bytes: &[u8], out: &mut [f32]) {
        match self {
            VectorPrecision::Fp32 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *o = f32::from_le_bytes(c.try_into().expect("4 bytes"));
                }
            }
            VectorPrecision::Fp16 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = f16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32();
                }
            }
            VectorPrecision::Bf16 => {
                for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                    *o = bf16::from_le_bytes(c.try_into().expect("2 bytes")).to_f32();
                }
            }
        }
    }
}

impl std::str::FromStr for VectorPrecision {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fp32" => Ok(VectorPrecision::Fp32),
            "fp16" => Ok(VectorPrecision::Fp16),
            "bf16" => Ok(VectorPrecision::Bf16),
            other => Err(input_error!(
                "unknown vector precision '{other}': fp32, fp16 or bf16"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_in_libtorch_and_encoding_here_agree_so_the_cache_is_lossless() {
        // Values spread over the range normalised vectors use, and awkward ones.
        let values: Vec<f32> = (0..4000)
            .map(|i| ((i as f32) * 0.7931).sin() * 0.3 + (i % 7) as f32 * 1e-4)
            .chain([0.0, -0.0, 1.0, -1.0, 6.1e-5, 1e-8, 0.333_333_34])
            .collect();
        for p in [
            VectorPrecision::Fp32,
            VectorPrecision::Fp16,
            VectorPrecision::Bf16,
        ] {
            let rounded: Vec<f32> = Vec::try_from(p.round(Tensor::from_slice(&values))).unwrap();
            let bytes = p.encode(&rounded);
            assert_eq!(bytes.len(), values.len() * p.bytes());
            let mut back = vec![f32::NAN; values.len()];
            p.decode(&bytes, &mut back);
            for ((v, r), b) in values.iter().zip(&rounded).zip(&back) {
                assert_eq!(r.to_bits(), b.to_bits(), "{} of {v}", p.name());
                let bound = match p {
                    VectorPrecision::Fp32 => 0.0,
                    VectorPrecision::Fp16 => v.abs() * 2f32.powi(-11) + 6e-8,
                    VectorPrecision::Bf16 => v.abs() * 2f32.powi(-8),
                };
                assert!((r - v).abs() <= bound, "{}: {v} → {r}", p.name());
            }
            // Direct encoding of unrounded values rounds the same way libtorch does.
            let mut direct = vec![0f32; values.len()];
            p.decode(&p.encode(&values), &mut direct);
            assert_eq!(direct, rounded, "{}", p.name());
        }
    }

    #[test]
    fn names_round_trip() {
        for p in [
            VectorPrecision::Fp32,
            VectorPrecision::Fp16,
            VectorPrecision::Bf16,
        ] {
            assert_eq!(p.name().parse::<VectorPrecision>().unwrap(), p);
        }
        assert!("f16".parse::<VectorPrecision>().is_err());
    }
}
