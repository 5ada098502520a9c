//! Tests of `kit`: the load step's settings (Neptune and bulk) from the environment.

use crate::kit::LoadSettings;

fn settings(vars: &[(&str, &str)]) -> Result<LoadSettings, String> {
    let vars: Vec<(String, String)> =
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    LoadSettings::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
}

#[test]
fn load_settings_from_the_environment() -> Result<(), String> {
    let s = settings(&[
        ("GRAPHETL_NEPTUNE_ENDPOINT", "db.cluster-x.us-east-1.neptune.amazonaws.com"),
        ("GRAPHETL_NEPTUNE_PORT", "8182"),
    ])?;
    assert_eq!(s.endpoint, "https://db.cluster-x.us-east-1.neptune.amazonaws.com:8182");
    assert!(s.iam_auth);
    assert!(s.writers >= 2);
    assert_eq!(s.engine_version.to_string(), "1.3.2.0");
    let s = settings(&[
        ("NEPTUNE_ENDPOINT", "http://127.0.0.1:9999"),
        ("GRAPHETL_NEPTUNE_PORT", "8182"),
        ("NEPTUNE_IAM_AUTH", "false"),
        ("NEPTUNE_WRITERS", "8"),
        ("NEPTUNE_ENGINE_VERSION", "1.2.1.0"),
    ])?;
    assert_eq!(s.endpoint, "http://127.0.0.1:9999", "an explicit port wins");
    assert!(!s.iam_auth);
    assert_eq!(s.writers, 8);
    assert_eq!(s.engine_version.to_string(), "1.2.1.0");
    assert!(settings(&[]).is_err_and(|e| e.contains("GRAPHETL_NEPTUNE_ENDPOINT")));
    let bad = [("NEPTUNE_ENDPOINT", "h"), ("NEPTUNE_WRITERS", "0")];
    assert!(settings(&bad).is_err_and(|e| e.contains("NEPTUNE_WRITERS")));
    let bad = [("NEPTUNE_ENDPOINT", "h"), ("NEPTUNE_IAM_AUTH", "maybe")];
    assert!(settings(&bad).is_err_and(|e| e.contains("NEPTUNE_IAM_AUTH")));
    let bad = [("NEPTUNE_ENDPOINT", "h"), ("GRAPHETL_NEPTUNE_PORT", "x")];
    assert!(settings(&bad).is_err());
    Ok(())
}

#[test]
fn bulk_settings_from_the_environment() -> Result<(), String> {
    let endpoint = ("NEPTUNE_ENDPOINT", "h");
    assert!(settings(&[endpoint])?.bulk.is_none(), "bulk is off by default");
    let role = ("GRAPHETL_NEPTUNE_BULK_ROLE_ARN", "arn:aws:iam::123456789012:role/Load");
    let s = settings(&[endpoint, role, ("AWS_REGION", "eu-west-1")])?;
    let bulk = s.bulk.ok_or("bulk is on with a role")?;
    assert_eq!((bulk.iam_role_arn.as_str(), bulk.region.as_str()), (role.1, "eu-west-1"));
    assert_eq!(bulk.min_records, 100_000);
    assert_eq!(bulk.max_wait.as_secs(), crate::kit::DEFAULT_BULK_MAX_WAIT_SECONDS);
    let s = settings(&[
        endpoint,
        role,
        ("AWS_REGION", "eu-west-1"),
        ("GRAPHETL_NEPTUNE_BULK_MIN_RECORDS", "5000"),
        ("GRAPHETL_NEPTUNE_BULK_POLL_SECONDS", "2"),
        ("GRAPHETL_NEPTUNE_BULK_MAX_WAIT_SECONDS", "60"),
    ])?;
    let bulk = s.bulk.ok_or("bulk is on with a role")?;
    assert_eq!(
        (bulk.min_records, bulk.poll_interval.as_secs(), bulk.max_wait.as_secs()),
        (5000, 2, 60)
    );
    assert!(settings(&[endpoint, role]).is_err_and(|e| e.contains("AWS_REGION")));
    let bad = [endpoint, role, ("AWS_REGION", "r"), ("GRAPHETL_NEPTUNE_BULK_MIN_RECORDS", "0")];
    assert!(settings(&bad).is_err_and(|e| e.contains("BULK_MIN_RECORDS")));
    Ok(())
}
