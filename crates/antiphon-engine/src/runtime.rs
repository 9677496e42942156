//! Worker thread (and CLI): finds, checks and loads the ONNX Runtime library, once per process.
//!
//! ONNX Runtime is loaded at run time (`ort` with `load-dynamic`), never linked. The library
//! comes from the `onnxruntime` (or `onnxruntime-gpu`) wheel on PyPI: `cargo xtask ort` (or the
//! first build of the tests, through `antiphon-ort-fetch`) puts it in `target/ort/`, and
//! `cargo xtask bundle` copies it beside the plugin binary.
//!
//! A missing or wrong library is an error value that says how to fix it. `ort` would panic on
//! its first call without a loaded library, and inside a plugin that takes the host down, so
//! nothing here calls into `ort` before [`runtime`] has loaded and checked the library.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ONNX Runtime version Antiphon is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";
/// File name of the library inside the PyPI wheels (there is no unversioned name).
pub const ORT_LIBRARY_NAME: &str = "libonnxruntime.so.1.31.1";
/// Environment variable naming the library file to use, ahead of every other place.
pub const ORT_LIBRARY_ENV: &str = "ANTIPHON_ORT_LIB";

/// Where a candidate library was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LibrarySource {
    /// The `ANTIPHON_ORT_LIB` environment variable.
    Environment,
    /// Beside the plugin or program binary.
    BesideBinary,
    /// The cache `cargo xtask ort` (or the tests' first build) fills under `target/ort/`.
    XtaskCache,
}

/// Why ONNX Runtime could not be loaded. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// No candidate file exists.
    #[error(
        "ONNX Runtime {ORT_VERSION} was not found (looked in: {}). Run `cargo xtask ort` \
         (or `cargo xtask bundle`, which puts it beside the plugin), or set {ORT_LIBRARY_ENV} \
         to the path of {ORT_LIBRARY_NAME} from the onnxruntime=={ORT_VERSION} wheel",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// Every place looked at, in order.
        searched: Vec<PathBuf>,
    },
    /// The file exists but is not a loadable ONNX Runtime library.
    #[error("{path} is not a usable ONNX Runtime library: {reason}. Replace it with {ORT_LIBRARY_NAME} from the onnxruntime=={ORT_VERSION} wheel")]
    Unloadable {
        /// The file.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// The library is another version.
    #[error("{path} is ONNX Runtime {found}, but Antiphon needs {ORT_VERSION}. Run `cargo xtask ort`, or point {ORT_LIBRARY_ENV} at {ORT_LIBRARY_NAME}")]
    WrongVersion {
        /// The file.
        path: PathBuf,
        /// The version it reports.
        found: String,
    },
    /// ONNX Runtime loaded but refused to create its environment.
    #[error("ONNX Runtime at {path} failed to start: {reason}")]
    Environment {
        /// The file.
        path: PathBuf,
        /// What ONNX Runtime said.
        reason: String,
    },
}

/// The loaded ONNX Runtime: the process-wide environment sessions are made in.
pub struct Runtime {
    /// `ort`'s environment; cheap to clone.
    pub environment: ort::environment::Environment,
    /// The library file in use.
    pub library_path: PathBuf,
    /// Where it was found.
    pub source: LibrarySource,
    /// The version it reports.
    pub version: String,
}

static RUNTIME: OnceLock<Result<Runtime, RuntimeError>> = OnceLock::new();

/// Loads ONNX Runtime on first use and returns it; later calls return the same result.
///
/// The library is looked for, in order: `ANTIPHON_ORT_LIB` (alone, when set); beside the
/// binary that contains Antiphon (the plugin's `.so`/`.clap`, or the `antiphon` program); the
/// `cargo xtask ort` cache. The first file that exists is the one used: a bad file is reported, not skipped,
/// so the error names what the user pointed at.
pub fn runtime() -> Result<&'static Runtime, RuntimeError> {
    RUNTIME
        .get_or_init(|| load(&candidates()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Every place [`runtime`] looks, in order. A set `ANTIPHON_ORT_LIB` is the only place: the
/// user named that file, and silently using another would hide their mistake.
pub fn candidates() -> Vec<(LibrarySource, PathBuf)> {
    let mut out = Vec::new();
    if let Some(path) = std::env::var_os(ORT_LIBRARY_ENV).filter(|p| !p.is_empty()) {
        out.push((LibrarySource::Environment, PathBuf::from(path)));
        return out;
    }
    if let Some(dir) = own_binary_dir() {
        out.push((LibrarySource::BesideBinary, dir.join(ORT_LIBRARY_NAME)));
    }
    out.push((
        LibrarySource::XtaskCache,
        xtask_cache_dir().join(ORT_LIBRARY_NAME),
    ));
    out
}

/// The folder `cargo xtask ort` extracts the library into for this build (CUDA or CPU).
pub fn xtask_cache_dir() -> PathBuf {
    let flavour = if cfg!(feature = "cuda") {
        "cuda"
    } else {
        "cpu"
    };
    // The workspace's target folder, two levels above this crate.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target")
        .join("ort")
        .join(flavour)
}

fn load(candidates: &[(LibrarySource, PathBuf)]) -> Result<Runtime, RuntimeError> {
    let Some((source, path)) = candidates.iter().find(|(_, p)| p.is_file()) else {
        return Err(RuntimeError::NotFound {
            searched: candidates.iter().map(|(_, p)| p.clone()).collect(),
        });
    };
    // ort resolves relative paths against the host program's folder; be explicit.
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    let version = library_version(&path)?;
    if version != ORT_VERSION {
        return Err(RuntimeError::WrongVersion {
            path,
            found: version,
        });
    }
    let builder = ort::init_from(&path).map_err(|e| RuntimeError::Unloadable {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let environment =
        builder
            .with_name("antiphon")
            .build()
            .map_err(|e| RuntimeError::Environment {
                path: path.clone(),
                reason: e.to_string(),
            })?;
    Ok(Runtime {
        environment,
        library_path: path,
        source: *source,
        version,
    })
}

/// Opens the library on its own and asks it for its version, before `ort` sees it.
fn library_version(path: &Path) -> Result<String, RuntimeError> {
    let unloadable = |reason: String| RuntimeError::Unloadable {
        path: path.to_path_buf(),
        reason,
    };
    // SAFETY: loading runs the library's initialisers; the file is the one the user or the
    // bundle named as ONNX Runtime, which is what would be loaded anyway.
    let library =
        unsafe { libloading::Library::new(path) }.map_err(|e| unloadable(e.to_string()))?;
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime release.
    let get_api_base = unsafe {
        library.get::<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase>(b"OrtGetApiBase")
    }
    .map_err(|_| unloadable("it does not export OrtGetApiBase".into()))?;
    // SAFETY: calling the library's own entry point; it returns a static table or null.
    let base = unsafe { get_api_base() };
    if base.is_null() {
        return Err(unloadable("OrtGetApiBase returned null".into()));
    }
    // SAFETY: `base` is non-null and points at the library's static OrtApiBase.
    let version = unsafe { ((*base).GetVersionString)() };
    if version.is_null() {
        return Err(unloadable("it reports no version".into()));
    }
    // SAFETY: ONNX Runtime returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(version) };
    // The library stays loaded: `ort` opens the same file again and keeps it.
    std::mem::forget(library);
    Ok(version.to_string_lossy().into_owned())
}

/// The folder of the shared object or program that contains this function.
fn own_binary_dir() -> Option<PathBuf> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let here = own_binary_dir as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables for an address inside this binary.
    let found = unsafe { libc::dladdr(here, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return std::env::current_exe()
            .ok()?
            .parent()
            .map(Path::to_path_buf);
    }
    // SAFETY: dladdr returned a NUL-terminated path owned by the loader.
    let file = unsafe { CStr::from_ptr(info.dli_fname) };
    let file = PathBuf::from(file.to_string_lossy().into_owned());
    let file = std::fs::canonicalize(&file).unwrap_or(file);
    file.parent().map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_library_names_every_place_it_looked() {
        let candidates = vec![
            (
                LibrarySource::Environment,
                PathBuf::from("/nonexistent/a.so"),
            ),
            (
                LibrarySource::XtaskCache,
                PathBuf::from("/nonexistent/b.so"),
            ),
        ];
        let err = load(&candidates).err().expect("must fail");
        let text = err.to_string();
        assert!(matches!(err, RuntimeError::NotFound { .. }));
        assert!(text.contains("/nonexistent/a.so") && text.contains("/nonexistent/b.so"));
        assert!(text.contains("cargo xtask ort"));
    }

    #[test]
    fn a_file_that_is_not_a_library_is_reported_not_skipped() {
        let dir = std::env::temp_dir().join(format!("antiphon-rt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bogus = dir.join(ORT_LIBRARY_NAME);
        std::fs::write(&bogus, b"this is not an ELF file").unwrap();
        let err = load(&[(LibrarySource::Environment, bogus.clone())])
            .err()
            .expect("must fail");
        assert!(matches!(err, RuntimeError::Unloadable { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn own_binary_dir_is_found() {
        let dir = own_binary_dir().expect("a folder");
        assert!(dir.is_dir());
    }
}
