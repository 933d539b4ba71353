// maildir: the Maildir++ writer and reader and the folder name encoding
// (see maildir.h).
#include "ldapmbox/maildir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace fs = std::filesystem;

namespace ldapmda {
namespace {

constexpr char kBase64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

// The code point at `s[*i]`, advancing `*i`; U+FFFD for invalid bytes.
char32_t NextCodePoint(std::string_view s, std::size_t* i) {
  const auto byte = [&](std::size_t k) {
    return static_cast<unsigned char>(s[k]);
  };
  const unsigned char b = byte(*i);
  const std::size_t n = b < 0x80         ? 1
                        : (b >> 5) == 6  ? 2
                        : (b >> 4) == 14 ? 3
                        : (b >> 3) == 30 ? 4
                                         : 0;
  if (n == 0 || *i + n > s.size()) {
    ++*i;
    return 0xFFFD;
  }
  char32_t cp = n == 1 ? b : (b & (0x7Fu >> n));
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(*i + k) & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(*i + k) & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  *i += n;
  const bool bad =
      cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF);
  return bad ? 0xFFFD : cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  const auto put = [&](unsigned v) { out->push_back(static_cast<char>(v)); };
  if (cp < 0x80) {
    put(static_cast<unsigned>(cp));
  } else if (cp < 0x800) {
    put(0xC0 | (cp >> 6));
    put(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    put(0xE0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  } else {
    put(0xF0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3F));
    put(0x80 | ((cp >> 6) & 0x3F));
    put(0x80 | (cp & 0x3F));
  }
}

// "&<modified base64 of the UTF-16BE of `cps`>-".
std::string ShiftedRun(const std::u32string& cps) {
  std::string bytes;
  const auto unit = [&](unsigned u) {
    bytes.push_back(static_cast<char>(u >> 8));
    bytes.push_back(static_cast<char>(u & 0xFF));
  };
  for (char32_t cp : cps) {
    if (cp < 0x10000) {
      unit(static_cast<unsigned>(cp));
    } else {
      unit(0xD800 + ((cp - 0x10000) >> 10));
      unit(0xDC00 + ((cp - 0x10000) & 0x3FF));
    }
  }
  std::string out = "&";
  unsigned bits = 0, nbits = 0;
  for (char c : bytes) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      out += kBase64[(bits >> nbits) & 0x3F];
    }
  }
  if (nbits > 0) out += kBase64[(bits << (6 - nbits)) & 0x3F];
  return out + "-";
}

// Decodes the base64 of one "&...-" run into UTF-8; false if malformed.
bool DecodeRun(std::string_view run, std::string* out) {
  unsigned bits = 0, nbits = 0;
  std::vector<unsigned> units;
  for (char c : run) {
    const char* p = std::strchr(kBase64, c);
    if (c == '\0' || p == nullptr) return false;
    bits = (bits << 6) | static_cast<unsigned>(p - kBase64);
    nbits += 6;
    if (nbits >= 16) {
      nbits -= 16;
      units.push_back((bits >> nbits) & 0xFFFF);
    }
  }
  if (nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) return false;
  for (std::size_t i = 0; i < units.size(); ++i) {
    char32_t cp = units[i];
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < units.size() &&
        units[i + 1] >= 0xDC00 && units[i + 1] <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (units[++i] - 0xDC00);
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      return false;
    }
    AppendUtf8(cp, out);
  }
  return !units.empty();
}

// A '.' that would make an empty Maildir++ level, "." or "..".
bool IsUnsafeDot(std::string_view s, std::size_t i) {
  return s[i] == '.' &&
         (i == 0 || i + 1 == s.size() || s[i - 1] == '.' || s[i + 1] == '.');
}

[[noreturn]] void Fail(const std::string& what, const std::error_code& ec) {
  throw MaildirError(what + ": " + ec.message());
}

void MakeDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) Fail("cannot create directory " + dir.string(), ec);
}

// The keys named by the files in `dir`/cur and `dir`/new.
std::set<std::string> KeysIn(const fs::path& dir) {
  std::set<std::string> keys;
  for (const char* sub : {"cur", "new"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / sub, ec)) {
      if (std::string k = KeyInFileName(e.path().filename().string());
          !k.empty()) {
        keys.insert(std::move(k));
      }
    }
    if (ec) Fail("cannot read directory " + (dir / sub).string(), ec);
  }
  return keys;
}

void WriteFileAtomically(const fs::path& tmp, const fs::path& dest,
                         std::string_view data, std::time_t mtime) {
  const int fd =
      open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    Fail("cannot create " + tmp.string(), {errno, std::generic_category()});
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      unlink(tmp.c_str());
      Fail("cannot write " + tmp.string(), {err, std::generic_category()});
    }
    done += static_cast<std::size_t>(n);
  }
  const timespec times[2] = {{mtime, 0}, {mtime, 0}};
  futimens(fd, times);  // mail readers show the file time: keep it right
  // Maildir's rule: the file is complete on disk before it appears.
  if (fsync(fd) != 0 || close(fd) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    Fail("cannot write " + tmp.string(), {err, std::generic_category()});
  }
  if (rename(tmp.c_str(), dest.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    Fail("cannot rename into " + dest.string(), {err, std::generic_category()});
  }
}

// The leading decimal number of a file name, or nullopt.
std::optional<std::time_t> TimeInFileName(std::string_view name) {
  std::time_t t = 0;
  std::size_t i = 0;
  for (; i < name.size() && i < 12 && name[i] >= '0' && name[i] <= '9'; ++i) {
    t = t * 10 + (name[i] - '0');
  }
  if (i == 0 || i >= name.size() || name[i] != '.') return std::nullopt;
  return t;
}

// The message files of one folder directory.
void ScanFolder(const fs::path& dir, const std::string& folder,
                std::vector<MaildirFile>* out) {
  for (const char* sub : {"cur", "new"}) {
    std::error_code ec;
    if (!fs::is_directory(dir / sub, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir / sub, ec)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with(".") || !e.is_regular_file()) continue;
      MaildirFile f{e.path().string(), folder, 0, KeyInFileName(name)};
      if (auto t = TimeInFileName(name)) {
        f.time = *t;
      } else if (struct stat st{}; stat(f.path.c_str(), &st) == 0) {
        f.time = st.st_mtime;
      }
      out->push_back(std::move(f));
    }
    if (ec) Fail("cannot read directory " + (dir / sub).string(), ec);
  }
}

}  // namespace

std::string EncodeMaildirFolder(std::string_view folder) {
  std::string out;
  std::u32string run;
  for (std::size_t i = 0; i < folder.size();) {
    const std::size_t at = i;
    const char32_t cp = NextCodePoint(folder, &i);
    const bool direct = cp >= 0x20 && cp <= 0x7E && cp != '&' && cp != '/' &&
                        !IsUnsafeDot(folder, at);
    if (!direct && cp != '&') {
      run.push_back(cp);
      continue;
    }
    if (!run.empty()) out += ShiftedRun(run);
    run.clear();
    out +=
        cp == '&' ? std::string("&-") : std::string(1, static_cast<char>(cp));
  }
  if (!run.empty()) out += ShiftedRun(run);
  return out;
}

std::optional<std::string> DecodeMaildirFolder(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size();) {
    if (name[i] != '&') {
      out += name[i++];
      continue;
    }
    const std::size_t end = name.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    if (end == i + 1) {
      out += '&';
    } else if (!DecodeRun(name.substr(i + 1, end - i - 1), &out)) {
      return std::nullopt;
    }
    i = end + 1;
  }
  return out;
}

std::string MaildirFolderPath(const std::string& root,
                              std::string_view folder) {
  if (folder == kInbox) return root;
  return root + "/." + EncodeMaildirFolder(folder);
}

std::string MaildirFileName(std::string_view key, std::time_t delivered) {
  return std::to_string(delivered) + "." + std::string(key) + ".ldapmbox:2,S";
}

std::string KeyInFileName(std::string_view name) {
  std::size_t pos = 0;
  while (pos < name.size()) {
    std::size_t end = name.find_first_of(".:,", pos);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view word = name.substr(pos, end - pos);
    if (word.size() == 64 && std::all_of(word.begin(), word.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        })) {
      return std::string(word);
    }
    pos = end + 1;
  }
  return "";
}

MaildirWriter::MaildirWriter(std::string root) : root_(std::move(root)) {
  Folder(kInbox);
}

const std::string& MaildirWriter::Folder(std::string_view folder) {
  if (auto it = dirs_.find(folder); it != dirs_.end()) return it->second;
  const std::string path = MaildirFolderPath(root_, folder);
  for (const char* sub : {"cur", "new", "tmp"})
    MakeDirectory(fs::path(path) / sub);
  if (folder != kInbox) {
    // Courier's mark of a Maildir++ folder; Dovecot creates it too.
    const std::string mark = path + "/maildirfolder";
    const int fd = open(mark.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) Fail("cannot create " + mark, {errno, std::generic_category()});
    close(fd);
  }
  keys_[std::string(folder)] = KeysIn(path);
  return dirs_.emplace(std::string(folder), path).first->second;
}

bool MaildirWriter::Has(std::string_view folder, std::string_view key) {
  Folder(folder);
  return keys_.find(folder)->second.count(std::string(key)) > 0;
}

bool MaildirWriter::Write(std::string_view folder, std::string_view key,
                          std::time_t delivered, std::string_view raw) {
  if (Has(folder, key)) return false;
  const fs::path dir = Folder(folder);
  const std::string name = MaildirFileName(key, delivered);
  WriteFileAtomically(dir / "tmp" / name, dir / "cur" / name, raw, delivered);
  keys_.find(folder)->second.insert(std::string(key));
  return true;
}

std::vector<MaildirFile> ScanMaildir(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(fs::path(root) / "cur", ec) &&
      !fs::is_directory(fs::path(root) / "new", ec)) {
    throw MaildirError(root + " is not a Maildir: it has no cur/ or new/");
  }
  std::vector<MaildirFile> files;
  ScanFolder(root, kInbox, &files);
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < 2 || name[0] != '.' || name == ".." ||
        !e.is_directory()) {
      continue;
    }
    std::error_code sub_ec;
    if (!fs::is_directory(e.path() / "cur", sub_ec)) continue;
    const std::string encoded = name.substr(1);
    ScanFolder(e.path(), DecodeMaildirFolder(encoded).value_or(encoded),
               &files);
  }
  if (ec) Fail("cannot read directory " + root, ec);
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
    return std::tie(a.folder, a.time, a.path) <
           std::tie(b.folder, b.time, b.path);
  });
  return files;
}

}  // namespace ldapmda
