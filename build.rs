//! torch-sys links libtorch but its rpath does not reach our binaries, so a
//! plain `./target/release/emo` would fail to find libtorch_cpu.so. Point the
//! rpath at the libtorch that torch-sys actually linked against.
fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
}
