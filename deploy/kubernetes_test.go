package deploy

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// manifests is every object in deploy/kubernetes, decoded into its
// Kubernetes API type with unknown, miscased and duplicate fields refused
// (what `kubectl apply --validate=strict` does).
type manifests struct {
	configMap  *corev1.ConfigMap
	deployment *appsv1.Deployment
	service    *corev1.Service
	ingress    *networkingv1.Ingress
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	netpol     *networkingv1.NetworkPolicy
	job        *batchv1.Job
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var m manifests
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(b), -1) {
			js, err := yaml.YAMLToJSONStrict([]byte(doc)) // duplicate keys too
			if err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			if string(js) == "null" {
				continue // comments only
			}
			var tm metav1.TypeMeta
			if err := json.Unmarshal(js, &tm); err != nil {
				t.Fatalf("%s document %d: %v", file, i, err)
			}
			var target any
			switch tm.APIVersion + " " + tm.Kind {
			case "v1 ConfigMap":
				m.configMap = &corev1.ConfigMap{}
				target = m.configMap
			case "apps/v1 Deployment":
				m.deployment = &appsv1.Deployment{}
				target = m.deployment
			case "v1 Service":
				m.service = &corev1.Service{}
				target = m.service
			case "networking.k8s.io/v1 Ingress":
				m.ingress = &networkingv1.Ingress{}
				target = m.ingress
			case "policy/v1 PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				target = m.pdb
			case "autoscaling/v2 HorizontalPodAutoscaler":
				m.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
				target = m.hpa
			case "networking.k8s.io/v1 NetworkPolicy":
				m.netpol = &networkingv1.NetworkPolicy{}
				target = m.netpol
			case "batch/v1 Job":
				m.job = &batchv1.Job{}
				target = m.job
			case "v1 Secret":
				// Applying a Secret with placeholders would overwrite the
				// operator's real one at every `kubectl apply`.
				t.Fatalf("%s holds a Secret: create it with kubectl create secret instead", file)
			default:
				t.Fatalf("%s document %d: unexpected %s %s", file, i, tm.APIVersion, tm.Kind)
			}
			// encoding/json matches keys case-insensitively, so
			// readOnlyRootFileSystem would pass its DisallowUnknownFields
			// while the API server drops it. Kubernetes' own decoder is
			// case-sensitive and reports unknown and duplicate fields.
			strict, err := kjson.UnmarshalStrict(js, target, kjson.DisallowUnknownFields)
			if err != nil {
				t.Fatalf("%s: %s: %v", file, tm.Kind, err)
			}
			for _, e := range strict {
				t.Errorf("%s: %s: %v", file, tm.Kind, e)
			}
		}
	}
	for name, v := range map[string]bool{
		"ConfigMap": m.configMap != nil, "Deployment": m.deployment != nil, "Service": m.service != nil,
		"Ingress": m.ingress != nil, "PodDisruptionBudget": m.pdb != nil, "HorizontalPodAutoscaler": m.hpa != nil,
		"NetworkPolicy": m.netpol != nil, "Job": m.job != nil,
	} {
		if !v {
			t.Errorf("no %s in deploy/kubernetes", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

func TestKubernetes(t *testing.T) {
	m := loadManifests(t)
	d := m.deployment
	pod := d.Spec.Template.Spec
	c := container(t, pod, "latchkey")
	env := m.configMap.Data
	podLabels := labels.Set(d.Spec.Template.Labels)

	t.Run("replicas", func(t *testing.T) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Errorf("replicas %v, want 2 or more", d.Spec.Replicas)
		}
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || !sel.Matches(podLabels) {
			t.Errorf("the Deployment's selector does not match its pods (%v)", err)
		}
	})
	t.Run("pod-security", func(t *testing.T) {
		for _, spec := range []corev1.PodSpec{pod, m.job.Spec.Template.Spec} {
			checkPodSecurity(t, spec)
		}
	})
	t.Run("image-pinned", func(t *testing.T) {
		jc := container(t, m.job.Spec.Template.Spec, "migrate")
		if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
			t.Errorf("image %q is not pinned", c.Image)
		}
		if jc.Image != c.Image {
			t.Errorf("the migration Job runs %s, the Deployment %s: one release", jc.Image, c.Image)
		}
	})
	t.Run("probes", func(t *testing.T) {
		probePath := func(name string, p *corev1.Probe) string {
			if p == nil || p.HTTPGet == nil {
				t.Fatalf("%s probe missing or not httpGet", name)
			}
			if p.HTTPGet.Port.StrVal != "http" {
				t.Errorf("%s probe port %v, want the http port", name, p.HTTPGet.Port)
			}
			return p.HTTPGet.Path
		}
		if got := probePath("readiness", c.ReadinessProbe); got != "/readyz" {
			t.Errorf("readinessProbe %s, want /readyz", got)
		}
		if got := probePath("liveness", c.LivenessProbe); got != "/healthz" {
			t.Errorf("livenessProbe %s, want /healthz", got)
		}
		probePath("startup", c.StartupProbe)
		// serve waits up to 120s for the migration lock before it listens.
		s := c.StartupProbe
		if budget := time.Duration(s.PeriodSeconds*s.FailureThreshold) * time.Second; budget <= 120*time.Second {
			t.Errorf("startupProbe allows %s, want more than the 120s migration lock wait", budget)
		}
	})
	t.Run("resources", func(t *testing.T) {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[r]
			lim, okLim := c.Resources.Limits[r]
			if !okReq || !okLim {
				t.Errorf("%s: request set %v, limit set %v; want both", r, okReq, okLim)
				continue
			}
			if req.Cmp(lim) > 0 {
				t.Errorf("%s request %s above limit %s", r, req.String(), lim.String())
			}
		}
		// The measured peak under `latchkey bench` plus the Argon2id hashes
		// the CPU limit allows at once (19 MiB each).
		cpus := c.Resources.Limits.Cpu().Value()
		need := resource.MustParse("88Mi")
		need.Add(*resource.NewQuantity(cpus*19<<20, resource.BinarySI))
		if lim := c.Resources.Limits[corev1.ResourceMemory]; lim.Cmp(need) < 0 {
			t.Errorf("memory limit %s below measured peak + %d hashes (%s)", lim.String(), cpus, need.String())
		}
	})
	t.Run("rolling-restart", func(t *testing.T) {
		delay, timeout := duration(t, env["LATCHKEY_SHUTDOWN_DELAY"]), duration(t, env["LATCHKEY_SHUTDOWN_TIMEOUT"])
		if delay <= 0 {
			t.Errorf("LATCHKEY_SHUTDOWN_DELAY %s: the pod would close its listener while endpoints still point at it", delay)
		}
		// preStop keeps the pod serving while its endpoint removal spreads;
		// a sleep action, since distroless has no sleep binary.
		var pre time.Duration
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
			t.Errorf("preStop %+v: want a sleep action of a second or more", c.Lifecycle)
		} else {
			pre = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		if grace <= pre+delay+timeout {
			t.Errorf("terminationGracePeriodSeconds %s <= preStop %s + delay %s + timeout %s", grace, pre, delay, timeout)
		}
		if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
			t.Errorf("rollingUpdate %+v, want maxUnavailable 0", ru)
		}
	})
	t.Run("config-and-secret", func(t *testing.T) {
		var fromCM, fromSecret bool
		for _, e := range c.EnvFrom {
			fromCM = fromCM || (e.ConfigMapRef != nil && e.ConfigMapRef.Name == m.configMap.Name)
			fromSecret = fromSecret || (e.SecretRef != nil && e.SecretRef.Name == "latchkey")
		}
		if !fromCM || !fromSecret {
			t.Errorf("envFrom %+v, want the ConfigMap and the latchkey Secret", c.EnvFrom)
		}
		for _, k := range []string{"LATCHKEY_SECRET", "LATCHKEY_DATABASE", "LATCHKEY_SMTP_URL"} {
			if _, ok := env[k]; ok {
				t.Errorf("ConfigMap holds %s: it belongs in the Secret", k)
			}
		}
	})
	t.Run("trusted-proxies-narrow", func(t *testing.T) {
		v := env["LATCHKEY_TRUSTED_PROXIES"]
		if v == "" {
			t.Fatal("LATCHKEY_TRUSTED_PROXIES unset: behind an ingress every client would look like the ingress")
		}
		for _, s := range strings.Split(v, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(s))
			if err != nil {
				t.Errorf("LATCHKEY_TRUSTED_PROXIES %q: %v", s, err)
				continue
			}
			// A /16 is already a whole cluster's pod network on most CNIs.
			if (p.Addr().Is4() && p.Bits() < 20) || (p.Addr().Is6() && p.Bits() < 112) {
				t.Errorf("LATCHKEY_TRUSTED_PROXIES %s is too wide: pods in it could forge X-Forwarded-For", p)
			}
		}
	})
	t.Run("service-carries-no-metrics", func(t *testing.T) {
		if !labels.SelectorFromSet(m.service.Spec.Selector).Matches(podLabels) {
			t.Error("the Service's selector does not match the pods")
		}
		for _, p := range m.service.Spec.Ports {
			if p.TargetPort.StrVal != "http" {
				t.Errorf("Service port %s targets %v, want only the http port", p.Name, p.TargetPort)
			}
		}
	})
	t.Run("ingress-routes-to-the-service", func(t *testing.T) {
		for _, r := range m.ingress.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil || b.Name != m.service.Name || b.Port.Name != "http" {
					t.Errorf("Ingress path %s goes to %+v", p.Path, b)
				}
			}
		}
		if len(m.ingress.Spec.TLS) == 0 {
			t.Error("Ingress without TLS: the issuer must be https")
		}
	})
	t.Run("disruption-budget", func(t *testing.T) {
		if sel, err := metav1.LabelSelectorAsSelector(m.pdb.Spec.Selector); err != nil || !sel.Matches(podLabels) {
			t.Errorf("PDB selector does not match the pods (%v)", err)
		}
		if m.pdb.Spec.MaxUnavailable == nil || m.pdb.Spec.MaxUnavailable.IntValue() >= int(*d.Spec.Replicas) {
			t.Errorf("PDB maxUnavailable %v lets every replica go at once", m.pdb.Spec.MaxUnavailable)
		}
	})
	t.Run("autoscaler", func(t *testing.T) {
		ref := m.hpa.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
			t.Errorf("HPA targets %+v", ref)
		}
		if m.hpa.Spec.MinReplicas == nil || *m.hpa.Spec.MinReplicas < 2 || m.hpa.Spec.MaxReplicas < *m.hpa.Spec.MinReplicas {
			t.Errorf("HPA replicas %v..%d", m.hpa.Spec.MinReplicas, m.hpa.Spec.MaxReplicas)
		}
	})
	t.Run("metrics-only-from-monitoring", func(t *testing.T) {
		np := m.netpol
		if sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || !sel.Matches(podLabels) {
			t.Fatalf("NetworkPolicy does not select the pods (%v)", err)
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Fatal("NetworkPolicy does not restrict ingress")
		}
		metricsPort := containerPort(t, c, "metrics")
		if env["LATCHKEY_METRICS_LISTEN"] != ":"+itoa(metricsPort) {
			t.Errorf("LATCHKEY_METRICS_LISTEN %q, container port metrics %d", env["LATCHKEY_METRICS_LISTEN"], metricsPort)
		}
		allowed := 0
		for _, rule := range np.Spec.Ingress {
			if !coversPort(rule.Ports, "metrics", metricsPort) {
				continue
			}
			allowed++
			if len(rule.From) == 0 {
				t.Error("a rule opens the metrics port to everyone")
			}
			for _, peer := range rule.From {
				if peer.IPBlock != nil || peer.PodSelector != nil || peer.NamespaceSelector == nil ||
					peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" ||
					len(peer.NamespaceSelector.MatchLabels) != 1 || len(peer.NamespaceSelector.MatchExpressions) != 0 {
					t.Errorf("metrics port open to %+v, want only the monitoring namespace", peer)
				}
			}
		}
		if allowed == 0 {
			t.Error("no rule lets Prometheus reach the metrics port")
		}
	})
	t.Run("migration-job", func(t *testing.T) {
		js := m.job.Spec.Template.Spec
		jc := container(t, js, "migrate")
		if !slices.Equal(jc.Args, []string{"migrate"}) {
			t.Errorf("Job args %q, want [migrate]", jc.Args)
		}
		if js.RestartPolicy != corev1.RestartPolicyNever && js.RestartPolicy != corev1.RestartPolicyOnFailure {
			t.Errorf("Job restartPolicy %s", js.RestartPolicy)
		}
		if m.job.Spec.BackoffLimit == nil || m.job.Spec.ActiveDeadlineSeconds == nil {
			t.Error("Job without backoffLimit or activeDeadlineSeconds could retry forever")
		}
		if labels.SelectorFromSet(m.service.Spec.Selector).Matches(labels.Set(m.job.Spec.Template.Labels)) {
			t.Error("the Job's pods carry the server's labels: the Service would send them traffic")
		}
	})
}

// checkPodSecurity: non-root, no privilege escalation, no capabilities, a
// read-only root and the runtime's seccomp profile, for every container.
func checkPodSecurity(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v", psc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it never uses")
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: no securityContext", c.Name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation not false", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem not true", c.Name)
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s: runAsNonRoot not true", c.Name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
			t.Errorf("%s: capabilities %+v, want drop [ALL]", c.Name, sc.Capabilities)
		}
		if sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile %+v", c.Name, sc.SeccompProfile)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", c.Name)
		}
	}
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, name)
	return 0
}

// coversPort reports whether a NetworkPolicy rule's ports include the
// container port (by name or number); no ports means every port.
func coversPort(ports []networkingv1.NetworkPolicyPort, name string, number int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Port == nil || p.Port.StrVal == name || (p.Port.StrVal == "" && p.Port.IntVal == number) {
			return true
		}
		if p.EndPort != nil && p.Port.IntVal <= number && number <= *p.EndPort {
			return true
		}
	}
	return false
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }
