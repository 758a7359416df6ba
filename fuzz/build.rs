//! Same reason as the root crate's build.rs: torch-sys's rpath does not reach
//! the fuzz binaries, which would then fail to find libtorch_cpu.so.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}
