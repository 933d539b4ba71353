// pipe_user: see pipe_user.h.
#include "support/pipe_user.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace ldapmda::testing {

RunAs EnsureAccount(const std::string& name) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (const passwd* pw = getpwnam(name.c_str())) {
      return {pw->pw_uid, pw->pw_gid};
    }
    // Another test process may hold useradd's lock: look again, then retry.
    RunProcess(
        {"/usr/sbin/useradd", "--system", "--no-create-home", "--home-dir",
         "/nonexistent", "--shell", "/usr/sbin/nologin", name},
        "", std::chrono::seconds(30));
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw std::runtime_error("cannot create the account " + name);
}

std::optional<RunAs> PipeUser() {
  if (geteuid() != 0) return std::nullopt;
  static const RunAs user = EnsureAccount(kPipeUserName);
  return user;
}

void GiveTo(const std::string& path, const std::optional<RunAs>& who) {
  if (!who) return;
  if (chown(path.c_str(), who->uid, who->gid) != 0) {
    throw std::runtime_error("chown " + path + ": " +
                             std::system_category().message(errno));
  }
}

}  // namespace ldapmda::testing
