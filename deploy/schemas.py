"""Validates rendered Kubernetes manifests against the schemas of one Kubernetes version,
offline: the schemas ship inside the kubernetes-validate package.

kubernetes-validate on its own only warns about a kind it has no schema for, so a misspelt
kind or apiVersion would pass. Here that is an error, except for the custom resources in
CUSTOM_RESOURCES. Validation is strict: a field the schema does not know is an error too.

Usage: python schemas.py KUBERNETES_VERSION FILE...
"""

import sys

import kubernetes_validate.utils as kv

# Their schemas come with KEDA and the Prometheus Operator, not with Kubernetes, so they
# are not checked here (kubectl apply --dry-run=server against a cluster with the CRDs would).
CUSTOM_RESOURCES = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
}


def main(version, files):
    errors = 0
    for file in files:
        for resource in kv.resources_from_file(file):
            kind = (resource.get("apiVersion"), resource.get("kind"))
            if kind in CUSTOM_RESOURCES:
                continue
            name = f"{file}: {kind[1]}/{resource.get('metadata', {}).get('name')}"
            try:
                kv.validate(resource, version, strict=True)
            except kv.ValidationError as e:
                path = ".".join(str(part) for part in e.path)
                print(f"{name}: {path}: {e.message}")
                errors += 1
            except kv.SchemaNotFoundError as e:
                print(f"{name}: {e.message}")
                errors += 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
