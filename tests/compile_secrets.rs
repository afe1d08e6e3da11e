//! Recorded secrets (a password, a bearer token no response produced) never reach the
//! YAML: they go to the sidecar `.env` written with mode 0600.

use std::path::Path;
use std::process::Command;

#[test]
fn secrets_go_to_the_sidecar_only() {
    let har =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/har/unit/secrets-and-literals.har");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scenario.yaml");
    let o = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("compile")
        .arg(&har)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("secrets moved to the sidecar .env: BEARER_TOKEN, PASSWORD"),
        "{stderr}"
    );

    let yaml = std::fs::read_to_string(&out).unwrap();
    let env_path = dir.path().join("scenario.env");
    let env = std::fs::read_to_string(&env_path).unwrap();
    for secret in ["pw-Kx7-recorded", "sk_live_Zx81Qm02LpVt55aa"] {
        assert!(
            !yaml.contains(secret),
            "{secret} leaked into the YAML:\n{yaml}"
        );
        assert!(
            env.contains(secret),
            "{secret} missing from the sidecar:\n{env}"
        );
    }
    assert!(
        yaml.contains("{{ env('PASSWORD') }}") && yaml.contains("{{ env('BEARER_TOKEN') }}"),
        "{yaml}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The scenario validates with the sidecar beside it, and provenance points at the HAR.
    let v = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("validate")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
    let plan = throng_ir::load(&out).unwrap();
    let src = plan.scenarios[0].steps[0].source.clone().unwrap();
    assert!(
        dir.path().join(&src.har).exists() || Path::new(&src.har).exists(),
        "{}",
        src.har
    );
}
