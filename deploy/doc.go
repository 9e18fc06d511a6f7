// Package deploy holds no code: its tests check the deployment files beside
// them (the Dockerfile, docker-compose.yml and the Kubernetes manifests)
// against the real parsers and API types, and build the binary the way the
// Dockerfile does.
package deploy
