"""Function names as the tools users know print them: rustfilt for Rust (legacy and v0
symbols), c++filt for C++ (Itanium). Each expected name below is what those tools print
for the symbol (rustfilt: without hashes or crate disambiguators), through the CLI where
a plugin names its functions so, and on its own for the grammar's corners."""

from __future__ import annotations

import json

import pytest

from wasmcli.engines.demangle import _cxa_demangle, demangle

from .conftest import SAMPLES, plugin_wat

# rustc's legacy mangling, from the sample plugins' name sections and rustc 1.95.
RUST_LEGACY = {
    "_ZN36_$LT$T$u20$as$u20$core..any..Any$GT$7type_id17h1eb33050df948c2cE": (
        "<T as core::any::Any>::type_id"
    ),
    "_ZN78_$LT$json_fields..Fields$u20$as$u20$core..iter..traits..iterator..Iterator$GT$"
    "4next17hd6715c7037bff0a2E": (
        "<json_fields::Fields as core::iter::traits::iterator::Iterator>::next"
    ),
    "_ZN4core5slice29_$LT$impl$u20$$u5b$T$u5d$$GT$15copy_from_slice17len_mismatch_fail"
    "17h740a78e4b354ca33E": "core::slice::<impl [T]>::copy_from_slice::len_mismatch_fail",
    "_ZN4core3fmt3num3imp52_$LT$impl$u20$core..fmt..Display$u20$for$u20$u32$GT$3fmt"
    "17ha2248e879404ed23E": "core::fmt::num::imp::<impl core::fmt::Display for u32>::fmt",
    # LLVM's `.llvm.<n>` suffix goes, as rustfilt drops it.
    "_ZN4core3ptr28drop_in_place$LT$$RF$u64$GT$17h1d02b19a6a06a02bE.llvm.5115463553621482282": (
        "core::ptr::drop_in_place<&u64>"
    ),
    "_ZN9word_freq3sdk11alloc_slice17h704a37ee7b65623dE": "word_freq::sdk::alloc_slice",
    "_ZN3lib10_$ufc$bung17hef8c9ccbf00d2c3bE": "lib::übung",
    "_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure"
    "$u7d$$u7d$$GT$17h1d7a5a5d3f1f1a2bE": (
        "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>"
    ),
}

# rustc's v0 mangling (-C symbol-mangling-version=v0).
RUST_V0 = {
    "_RNvCs15kBYyAo9fc_7mycrate7example": "mycrate::example",
    "_RNvMsr_NtCs3ssYzQotkvD_3std4pathNtB5_7PathBuf3newCs15kBYyAo9fc_7mycrate": (
        "<std::path::PathBuf>::new"
    ),
    "_RNvXs_NtNtNtCsgEmfK2I1SDS_4core4iter7sources5emptyINtB4_5EmptyhENtNtNtB8_6traits8iterator"
    "8Iterator4nextCsh537bOAIRKx_3lib": (
        "<core::iter::sources::empty::Empty<u8> as core::iter::traits::iterator::Iterator>::next"
    ),
    "_RNSNvYNCNvCsh537bOAIRKx_3lib4user0INtNtNtCsgEmfK2I1SDS_4core3ops8function6FnOnceTmEE"
    "9call_once6vtableB8_": (
        "<lib::user::{closure#0} as core::ops::function::FnOnce<(u32,)>>"
        "::call_once::{shim:vtable#0}"
    ),
    "_RINvCsh537bOAIRKx_3lib7genericINtB2_7WrapperINtNtCslNYArtu3iFV_5alloc3vec3VecNtNtBL_6string"
    "6StringEEEB2_": "lib::generic::<lib::Wrapper<alloc::vec::Vec<alloc::string::String>>>",
    "_RINvCsh537bOAIRKx_3lib3negKln5_EB2_": "lib::neg::<-5>",
    "_RINvCsh537bOAIRKx_3lib7konst_bKb1_Kc78_EB2_": "lib::konst_b::<true, 'x'>",
    "_RNvCsh537bOAIRKx_3libu8bung_zra": "lib::übung",
    "_RINvCsh537bOAIRKx_3lib2tyAhj4_EB2_": "lib::ty::<[u8; 4]>",
    "_RINvCsh537bOAIRKx_3lib2tyFUKChEuEB2_": 'lib::ty::<unsafe extern "C" fn(u8)>',
    "_RINvCsh537bOAIRKx_3lib2tyOTtxEEB2_": "lib::ty::<*mut (u16, i64)>",
    "_RINvCsh537bOAIRKx_3lib2tyTfdbcasijtoEEB2_": (
        "lib::ty::<(f32, f64, bool, char, i8, i16, isize, usize, u16, u128)>"
    ),
    "_RINvCsh537bOAIRKx_3lib2tyDNtNtNtNtCsgEmfK2I1SDS_4core4iter6traits8iterator8Iteratorp4Itemh"
    "NtNtBw_6marker4SendEL_EB2_": (
        "lib::ty::<dyn core::iter::traits::iterator::Iterator<Item = u8> + core::marker::Send>"
    ),
    "_RINvCsh537bOAIRKx_3lib2tyINtNtCslNYArtu3iFV_5alloc5boxed3BoxDG_INtNtNtCsgEmfK2I1SDS_4core"
    "3ops8function2FnTRL0_hEEp6OutputRL0_hEL_EEB2_": (
        "lib::ty::<alloc::boxed::Box<"
        "dyn for<'a> core::ops::function::Fn<(&'a u8,), Output = &'a u8>>>"
    ),
}

# clang++'s Itanium mangling, as c++filt prints it.
CPP = {
    "_Z5plaini": "plain(int)",
    "_ZdlPv": "operator delete(void*)",
    "_ZN2ns3BoxIlE5countEiPKc": "ns::Box<long>::count(int, char const*)",
    "_ZNK2ns2OpclEii": "ns::Op::operator()(int, int) const",
    "_Z3useRSt6vectorIiSaIiEE": "use(std::vector<int, std::allocator<int> >&)",
}

NOT_MANGLED = [
    "process",
    "func[3]",
    "_ZN3foo",  # cut short
    "_ZN3fooE3",  # neither Rust nor C++ after its `E`
    "_RNvC",  # cut short
    "_RNvCs_B5_3foo",  # a back reference that points forwards
    "_RINvC3foo3bar" + "R" * 5000 + "uE",  # nested past the depth bound
    "_Zzzz",
]


@pytest.mark.parametrize("mangled", sorted(RUST_LEGACY))
def test_rust_legacy_names_read_as_rustfilt_prints_them(mangled: str) -> None:
    assert demangle(mangled) == RUST_LEGACY[mangled]


@pytest.mark.parametrize("mangled", sorted(RUST_V0))
def test_rust_v0_names_read_as_rustfilt_prints_them(mangled: str) -> None:
    assert demangle(mangled) == RUST_V0[mangled]


@pytest.mark.parametrize("mangled", sorted(CPP))
def test_cpp_names_read_as_cxxfilt_prints_them(mangled: str) -> None:
    if _cxa_demangle() is None:
        pytest.skip("no libstdc++ here: C++ names stay mangled")
    assert demangle(mangled) == CPP[mangled]


@pytest.mark.parametrize("name", NOT_MANGLED)
def test_what_is_not_a_whole_mangled_name_stays_as_written(name: str) -> None:
    assert demangle(name) == name


def test_nesting_short_of_the_bound_reads() -> None:
    assert demangle("_RINvC3foo3bar" + "R" * 100 + "uE") == "foo::bar::<" + "&" * 100 + "()>"


def test_an_engine_that_kept_the_hash_loses_it() -> None:
    assert demangle("panic::fail::h6f0c1a2b3c4d5e6f") == "panic::fail"


def test_no_sample_plugin_shows_a_mangled_or_underscored_name(cli) -> None:
    # json_fields calls its iterator's trait impl: `<json_fields::Fields as ...>::next`.
    cli("run", str(SAMPLES / "json_fields.wasm"), "--input", '{"a":1}', "--profile")
    profile = json.loads(cli("traces", "profile", "last", "--json").stdout)
    names = set(profile["names"].values())
    assert "<json_fields::Fields as core::iter::traits::iterator::Iterator>::next" in names
    assert not [name for name in names if name.startswith(("_", "$")) or "$" in name]


def test_profiles_show_rust_and_cpp_functions_by_their_source_names(cli, wat_file) -> None:
    # A plugin whose functions carry the names rustc and clang++ give them.
    legacy, v0, cpp = (
        "_ZN36_$LT$T$u20$as$u20$core..any..Any$GT$7type_id17h1eb33050df948c2cE",
        ("_RNvMsr_NtCs3ssYzQotkvD_3std4pathNtB5_7PathBuf3newCs15kBYyAo9fc_7mycrate"),
        "_Z5plaini",
    )
    plugin = plugin_wat(
        f"(call ${legacy}) (call ${v0}) (call ${cpp}) (i32.const 0)",
        extra=f"(func ${legacy}) (func ${v0}) (func ${cpp})",
    )
    cli("run", str(wat_file(plugin)), "--profile")
    folded = cli("traces", "export", "--format", "folded", "-n", "1").stdout
    stacks = {line.rpartition(" ")[0] for line in folded.splitlines()}
    assert "process;<T as core::any::Any>::type_id" in stacks
    assert "process;<std::path::PathBuf>::new" in stacks
    if _cxa_demangle() is not None:
        assert "process;plain(int)" in stacks
