/* bcryptprimitives.dll for Wine, built by tools/wine-runner.sh with mingw.
 *
 * Rust's standard library (and the getrandom crate) take random bytes from
 * ProcessPrng in bcryptprimitives.dll, which every Windows 10 and later has.
 * Wine 8 (Debian 12's) has no such DLL, so a Windows test binary would not
 * even start under it. This stand-in exists only in the test lane's private
 * Wine prefix and answers from RtlGenRandom (advapi32's SystemFunction036),
 * which Wine does have. Real Windows never sees it. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!RtlGenRandom(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
