// Preloaded by tests/docker/run.sh (node --import): makes Testcontainers publish the ports it
// maps on 127.0.0.1 only (its API has no bind address; by default podman binds 0.0.0.0).
// The README snippet itself runs unchanged.
import { GenericContainer } from "testcontainers";

const withExposedPorts = GenericContainer.prototype.withExposedPorts;
GenericContainer.prototype.withExposedPorts = function (...ports) {
  const result = withExposedPorts.apply(this, ports);
  for (const bindings of Object.values(this.hostConfig.PortBindings ?? {})) {
    for (const binding of bindings) binding.HostIp = "127.0.0.1";
  }
  return result;
};
