//! Where the encoder runs and heads train: `--device auto|cpu|cuda|cuda:N`,
//! decided once where a command builds its encoder, and named in its outputs.
//!
//! One emo binary serves a CPU-only libtorch and a CUDA one. torch-sys 0.24 no
//! longer links `libtorch_cuda.so`, so libtorch only learns of CUDA when that
//! library is loaded into the process; emo loads it at run time (when it is
//! there) before asking libtorch about GPUs. When CUDA is asked for and cannot
//! be had, the message says which of the three things is missing: the CUDA build
//! of libtorch, the NVIDIA driver, or a visible GPU.

use crate::input_error;
use anyhow::Result;
use std::ffi::{CStr, CString};
use std::fmt;
use std::str::FromStr;
use std::sync::{Once, OnceLock};
use tch::Device;

/// The `--device` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The first GPU when CUDA is usable, else the CPU: silently with a CPU build of
    /// libtorch, with one note on stderr when a CUDA build cannot reach a GPU.
    #[default]
    Auto,
    Cpu,
    /// GPU `N` (`cuda` alone is GPU 0).
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("'{s}' is not a device: use auto, cpu, cuda or cuda:N")),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceChoice {
    /// The device to use. `cuda` that cannot be had is an input error (exit 2)
    /// saying why; `auto` falls back to the CPU, and says why on stderr (once per
    /// process) only when a CUDA build is installed but unusable.
    pub fn resolve(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto => match cuda_status() {
                Ok(_) => Ok(Device::Cuda(0)),
                // Whoever installed the CPU build chose the CPU: nothing to say.
                Err(NoCuda::CpuBuild(_)) => Ok(Device::Cpu),
                Err(NoCuda::Unusable(why)) => {
                    static SAID: Once = Once::new();
                    SAID.call_once(|| eprintln!("emo: note: --device auto runs on the CPU: {why}"));
                    Ok(Device::Cpu)
                }
            },
            DeviceChoice::Cuda(i) => match cuda_devices() {
                Ok(n) if i < n => Ok(Device::Cuda(i)),
                Ok(n) => Err(input_error!(
                    "--device cuda:{i}: there {} only {n} visible GPU{} (cuda:0 to cuda:{})",
                    if n == 1 { "is" } else { "are" },
                    if n == 1 { "" } else { "s" },
                    n - 1
                )),
                Err(why) => Err(input_error!("--device {self}: {why}")),
            },
        }
    }
}

/// Names a device for people and for output metadata.
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Why CUDA cannot be had: the installed libtorch is a CPU build (a choice, not a
/// fault), or it is a CUDA build that finds no driver or no GPU (worth a note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoCuda {
    CpuBuild(String),
    Unusable(String),
}

impl fmt::Display for NoCuda {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoCuda::CpuBuild(why) | NoCuda::Unusable(why) => f.write_str(why),
        }
    }
}

/// How many GPUs libtorch can use, or why none.
pub fn cuda_status() -> Result<usize, NoCuda> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| load_global("libtorch_cuda.so"))
        .as_ref()
        .map_err(|e| {
            NoCuda::CpuBuild(format!(
                "this libtorch has no CUDA support ({e}); install the CUDA build with `EMO_GPU=1 make setup`"
            ))
        })?;
    match tch::Cuda::device_count() {
        n if n > 0 => Ok(n as usize),
        _ if load_global("libcuda.so.1").is_err() => Err(NoCuda::Unusable(
            "no NVIDIA driver is installed (libcuda.so.1 not found)".into(),
        )),
        _ => Err(NoCuda::Unusable(match std::env::var("CUDA_VISIBLE_DEVICES") {
            Ok(v) => format!("the NVIDIA driver shows no usable GPU (CUDA_VISIBLE_DEVICES={v:?})"),
            Err(_) => "the NVIDIA driver shows no usable GPU (none present, or the driver is older than libtorch's CUDA 13 needs)".into(),
        })),
    }
}

/// [`cuda_status`] with the reason as text.
pub fn cuda_devices() -> Result<usize, String> {
    cuda_status().map_err(|e| e.to_string())
}

/// The compute capability (major, minor) of GPU `index`, asked of the CUDA
/// runtime that libtorch already loaded (`cudaDeviceGetAttribute`, looked up
/// by name so that emo links no CUDA library); `None` where there is no
/// runtime or it cannot tell. Half precision depends on it: bf16 has tensor
/// cores from compute capability 8.0 (Ampere) on, fp16 from 7.0.
pub fn cuda_capability(index: usize) -> Option<(i32, i32)> {
    type GetAttribute = unsafe extern "C" fn(*mut i32, i32, i32) -> i32;
    // cudaDevAttrComputeCapabilityMajor and ...Minor in cuda_runtime_api.h.
    const MAJOR: i32 = 75;
    const MINOR: i32 = 76;
    let index = i32::try_from(index).ok()?;
    // SAFETY: dlsym on RTLD_DEFAULT with a valid C string has no preconditions; the
    // symbol, when found, is the CUDA runtime's function of exactly this signature,
    // called with pointers to live integers.
    unsafe {
        let f = libc::dlsym(libc::RTLD_DEFAULT, c"cudaDeviceGetAttribute".as_ptr());
        if f.is_null() {
            return None;
        }
        let f: GetAttribute = std::mem::transmute::<*mut libc::c_void, GetAttribute>(f);
        let (mut major, mut minor) = (0i32, 0i32);
        if f(&mut major, MAJOR, index) != 0 || f(&mut minor, MINOR, index) != 0 {
            return None;
        }
        Some((major, minor))
    }
}

/// `dlopen(name, RTLD_NOW | RTLD_GLOBAL)`: global, so that libtorch's registries
/// see the CUDA kernels the library registers as it loads. Never unloaded.
fn load_global(name: &str) -> Result<(), String> {
    let c = CString::new(name).expect("library names have no NUL");
    // SAFETY: `c` is a valid C string; dlopen and dlerror have no other preconditions,
    // and a library that stays loaded for the life of the process is what we want.
    unsafe {
        if libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL).is_null() {
            let err = libc::dlerror();
            let why = if err.is_null() {
                format!("{name} could not be loaded")
            } else {
                CStr::from_ptr(err).to_string_lossy().into_owned()
            };
            return Err(why);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_rejects_others() {
        assert_eq!("auto".parse(), Ok(DeviceChoice::Auto));
        assert_eq!("cpu".parse(), Ok(DeviceChoice::Cpu));
        assert_eq!("cuda".parse(), Ok(DeviceChoice::Cuda(0)));
        assert_eq!("cuda:3".parse(), Ok(DeviceChoice::Cuda(3)));
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:x", "CPU", ""] {
            let e = bad.parse::<DeviceChoice>().unwrap_err();
            assert!(e.contains("auto, cpu, cuda or cuda:N"), "{bad}: {e}");
        }
        for c in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Cuda(2)] {
            assert_eq!(c.to_string().parse(), Ok(c));
        }
    }
}
