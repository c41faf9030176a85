//! `template.yaml` deploys every Lambda binary, and routes every API route to the function
//! built from that route's binary (`api-<route name>`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::http::routes::Route;

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join(path)).unwrap()
}

/// The template's functions: (binary, [(method, path)]), read from its text.
fn functions(template: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut functions: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut method = None;
    for line in template.lines().map(str::trim) {
        if let Some(binary) = line.strip_prefix("Binary: ") {
            functions.push((binary.to_owned(), Vec::new()));
        } else if line.starts_with("Type: AWS::Serverless::Function") {
            method = None;
        } else if let Some(m) = line.strip_prefix("Method: ") {
            method = Some(m.to_owned());
        } else if let Some(path) = line.strip_prefix("Path: ")
            && let (Some(m), Some(last)) = (method.take(), functions.last_mut())
        {
            last.1.push((m, path.to_owned()));
        }
    }
    functions
}

#[test]
fn every_binary_is_deployed_and_every_route_reaches_its_function() {
    let template = repo_file("template.yaml");
    let deployed = functions(&template);
    let binaries = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("functions/src/bin")).unwrap();
    for entry in binaries {
        let name = entry.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_owned();
        if name == "payouts-local" || name == "payouts-admin" {
            continue;
        }
        assert!(deployed.iter().any(|(binary, _)| *binary == name), "{name} is not deployed by template.yaml");
    }
    for route in Route::ALL {
        let (method, path) = route.spec();
        let binary = format!("api-{}", route.name().replace('_', "-"));
        let routes = &deployed.iter().find(|(b, _)| *b == binary).unwrap_or_else(|| panic!("{binary} missing")).1;
        assert_eq!(routes, &vec![(method.to_string(), path.to_owned())], "{binary} serves exactly {method} {path}");
    }
}

/// The stack-name limit the deploy notes give (43) fits every function name in Lambda's 64.
#[test]
fn every_function_name_fits_with_the_documented_stack_name_limit() {
    const STACK_NAME_MAX: usize = 43;
    let template = repo_file("template.yaml");
    let names: Vec<&str> = template.lines().filter_map(|line| line.trim().strip_prefix("FunctionName: !Sub ${AWS::StackName}")).collect();
    assert!(names.len() > 20, "the template names its functions");
    for suffix in names {
        assert!(STACK_NAME_MAX + suffix.len() <= 64, "<stack>{suffix} exceeds 64 characters with a {STACK_NAME_MAX}-character stack name");
    }
    let notes = repo_file("infra/deploy/README.md");
    assert!(notes.contains(&format!("at most {STACK_NAME_MAX} characters")), "infra/deploy/README.md states the limit");
}
