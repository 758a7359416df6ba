//! The arithmetic precision of the encoder's forward pass. Which operations run
//! reduced is decided here and in [`super::bert::Bert::forward_packed`], not by
//! an autocast policy: the matrix products (Q/K/V, attention output, both
//! feed-forward layers), the attention itself and the feed-forward activation
//! run in the compute type; embeddings, residual sums, layer norms, pooling and
//! normalisation stay in f32, and the vectors returned are always f32.

use crate::input_error;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 everywhere: the reference, equal to sentence-transformers
    #[default]
    Fp32,
    /// bfloat16 matrix products and attention (CPUs with AVX-512 BF16 or AMX, GPUs)
    Bf16,
    /// float16 matrix products and attention (CUDA only)
    Fp16,
    /// bf16 on a GPU or a CPU with native bf16 (AVX-512 BF16), fp32 otherwise
    Auto,
}

impl Precision {
    /// The precision to run on `device`: `auto` decided, `fp16` refused off CUDA.
    pub fn resolve(self, device: Device) -> Result<Precision> {
        match (self, device) {
            (Precision::Fp16, Device::Cpu) => Err(input_error!(
                "--precision fp16 needs a CUDA device (CPU float16 matrix products are slow and lose accuracy); use bf16 or fp32"
            )),
            (Precision::Auto, Device::Cpu) if cpu_has_bf16() => Ok(Precision::Bf16),
            (Precision::Auto, Device::Cpu) => Ok(Precision::Fp32),
            (Precision::Auto, _) => Ok(Precision::Bf16),
            (Precision::Bf16, Device::Cpu) if !cpu_has_bf16() => {
                eprintln!(
                    "emo: note: this CPU has no native bfloat16 arithmetic (AVX-512 BF16): bf16 is emulated, several times slower than fp32 (measured 5.4× slower on an AVX2 EPYC)"
                );
                Ok(Precision::Bf16)
            }
            (p, _) => Ok(p),
        }
    }

    /// The tensor type of the reduced operations.
    pub fn compute_kind(self) -> Kind {
        match self {
            Precision::Fp32 | Precision::Auto => Kind::Float,
            Precision::Bf16 => Kind::BFloat16,
            Precision::Fp16 => Kind::Half,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Auto => "auto",
        }
    }
}

/// Whether this CPU multiplies bfloat16 natively (AVX-512 BF16), where bf16
/// matrix products are faster than f32 ones; elsewhere libtorch emulates them.
pub fn cpu_has_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
